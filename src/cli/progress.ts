// A one-line progress bar for long operations (compaction, ...), drawn on
// stderr only when it is a terminal; elsewhere (pipes, logs, tests) nothing
// is drawn and only the final summary the command prints remains.

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

export function progressSink(stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  if (!stream.isTTY) return { update: () => undefined, finish: () => undefined };
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
