// Progress of long operations (compact, check). On a terminal: a one-line
// bar redrawn in place. Elsewhere (a pipe, a log, a systemd unit): a plain
// line every 10 s with the latest figures (or the elapsed time when the
// operation reports none), so a watcher can tell slow from stuck.

export interface ProgressSink {
  /** Redraws the bar; `done` of `total` units, with a short note after it. */
  update(done: number, total: number, note?: string): void;
  /** Ends the line (the bar stays visible). */
  finish(): void;
}

const BAR_CELLS = 30;

export function renderBar(done: number, total: number, note = ''): string {
  const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 1;
  const filled = Math.round(fraction * BAR_CELLS);
  const pct = `${Math.floor(fraction * 100)}`.padStart(3);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_CELLS - filled)}] ${pct}% ${done}/${total}${note ? ` ${note}` : ''}`;
}

export const PLAIN_PROGRESS_INTERVAL_MS = 10_000;

export interface PlainProgressOptions {
  /** The operation, at the start of each line: 'compact', 'check'. */
  readonly label: string;
  readonly intervalMs?: number;
}

type ProgressStream = Pick<NodeJS.WriteStream, 'write'> & { readonly isTTY?: boolean };

/** Plain lines `ublk-compress: LABEL: FIGURES (N s)` every interval until finish(). */
export function plainProgress(stream: ProgressStream, opts: PlainProgressOptions): ProgressSink {
  const started = Date.now();
  let latest: string | undefined;
  const timer = setInterval(() => {
    const elapsed = Math.round((Date.now() - started) / 1000);
    stream.write(`ublk-compress: ${opts.label}: ${latest ?? 'working'} (${elapsed} s)\n`);
  }, opts.intervalMs ?? PLAIN_PROGRESS_INTERVAL_MS);
  timer.unref();
  return {
    update(done, total, note) {
      const pct = total > 0 ? Math.floor(Math.min(1, done / total) * 100) : 100;
      latest = `${pct}% ${done}/${total}${note ? ` ${note}` : ''}`;
    },
    finish: () => clearInterval(timer),
  };
}

export function progressSink(stream: ProgressStream = process.stderr, plain: PlainProgressOptions = { label: 'working' }): ProgressSink {
  if (!stream.isTTY) return plainProgress(stream, plain);
  let drawn = false;
  return {
    update(done, total, note) {
      stream.write(`\r\x1b[2K${renderBar(done, total, note)}`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
