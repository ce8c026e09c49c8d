// The engine's mutex: mutating sections (a write's apply turn, a commit, a
// compaction step, a flush, a resize) run one at a time, in the order they
// were queued, on a promise chain. The addon's one-block writes run only
// while no section is held or queued (native-writes.ts): `onBusy` runs as the
// first section is queued, `onIdle` once the last one has ended.
export class EngineMutex {
  private tail: Promise<unknown> = Promise.resolve();
  private holders = 0;

  constructor(
    private readonly onBusy: () => void,
    private readonly onIdle: () => void,
  ) {}

  /** No section is held or queued. */
  get idle(): boolean {
    return this.holders === 0;
  }

  /** Runs `fn` once every section queued before it has ended. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.holders++ === 0) this.onBusy();
    const run = this.tail.then(fn);
    this.tail = run.catch(() => undefined);
    const release = (): void => {
      if (--this.holders === 0) this.onIdle();
    };
    run.then(release, release);
    return run;
  }
}
