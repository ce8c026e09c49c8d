// Keeps freed space from being reused or punched while a read that resolved a
// location into it is still in flight. Reads run without the engine's mutex:
// a read resolves lba -> extent -> (segment, offset) synchronously and then
// awaits its pread; a segment freed meanwhile must keep its bytes until then.
import assert from 'node:assert';

export class ReadGuard {
  private generation = 0;
  private readonly active = new Map<number, number>();
  private waiters: Array<{ barrier: number; resolve: () => void }> = [];

  /** Called when a read starts; returns the token for leave(). */
  enter(): number {
    const g = this.generation;
    this.active.set(g, (this.active.get(g) ?? 0) + 1);
    return g;
  }

  leave(token: number): void {
    const n = this.active.get(token);
    assert(n !== undefined && n > 0, 'leave without enter');
    if (n === 1) this.active.delete(token);
    else this.active.set(token, n - 1);
    this.wake();
  }

  /** Resolves once every read that started before this call has finished. */
  drain(): Promise<void> {
    const barrier = this.generation;
    this.generation += 1;
    if (!this.busyUpTo(barrier)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ barrier, resolve }));
  }

  private busyUpTo(barrier: number): boolean {
    for (const g of this.active.keys()) if (g <= barrier) return true;
    return false;
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (this.busyUpTo(w.barrier)) still.push(w);
      else w.resolve();
    }
    this.waiters = still;
  }
}
