// The engine's mutex: mutating sections (a write's apply turn, a commit, a
// compaction step, a flush, a resize) run one at a time, in the order they
// were queued, on a promise chain. The addon's one-block writes run only
// while no section is held or queued (native-writes.ts): `onBusy` runs as the
// first section is queued, `onIdle` once the last one has ended. Each section
// is named by its kind, and the time each kind held the mutex is counted (the
// stats show what keeps the addon's writes shut out).

/** What a section does. */
export type SectionKind = 'write' | 'write-batch' | 'unmap' | 'commit' | 'flush' | 'compact' | 'retry' | 'resize' | 'close';

/** Sections run per kind: the time they held the mutex in all and the longest, and waited for it in all (ms). */
export type SectionStats = Partial<Record<SectionKind, { sections: number; heldMs: number; maxMs: number; waitedMs: number }>>;

export class EngineMutex {
  private tail: Promise<unknown> = Promise.resolve();
  private holders = 0;
  private readonly held: SectionStats = {};

  constructor(
    private readonly onBusy: () => void,
    private readonly onIdle: () => void,
  ) {}

  /** No section is held or queued. */
  get idle(): boolean {
    return this.holders === 0;
  }

  /** Sections run since open, by kind (copies). */
  stats(): SectionStats {
    const out: SectionStats = {};
    for (const [k, v] of Object.entries(this.held) as Array<[SectionKind, NonNullable<SectionStats[SectionKind]>]>) {
      out[k] = { sections: v.sections, heldMs: Math.round(v.heldMs), maxMs: Math.round(v.maxMs * 10) / 10, waitedMs: Math.round(v.waitedMs) };
    }
    return out;
  }

  /** Resolves once every section queued now has ended (later ones may still be queued). */
  drained(): Promise<void> {
    return this.tail.then(() => undefined);
  }

  /** Runs `fn` once every section queued before it has ended. */
  run<T>(kind: SectionKind, fn: () => Promise<T>): Promise<T> {
    if (this.holders++ === 0) this.onBusy();
    const queued = performance.now();
    const run = this.tail.then(() => this.timed(kind, queued, fn));
    this.tail = run.catch(() => undefined);
    const release = (): void => {
      if (--this.holders === 0) this.onIdle();
    };
    run.then(release, release);
    return run;
  }

  private async timed<T>(kind: SectionKind, queued: number, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      const ms = performance.now() - t0;
      const h = (this.held[kind] ??= { sections: 0, heldMs: 0, maxMs: 0, waitedMs: 0 });
      h.sections += 1;
      h.waitedMs += t0 - queued;
      h.heldMs += ms;
      if (ms > h.maxMs) h.maxMs = ms;
    }
  }
}
