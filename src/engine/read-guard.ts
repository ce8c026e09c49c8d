// Keeps freed space from being reused or punched while a read that resolved a
// location into it is still in flight. Reads run without the engine's mutex:
// a read resolves lba -> extent -> (segment, offset) synchronously and then
// awaits its pread; a segment freed meanwhile must keep its bytes until then.
// Native reads (native-reads.ts) count too: drain() also waits for every one
// started before it, polled while any is in flight (they end in microseconds).
import assert from 'node:assert';
import type { NativeReadTables } from './native-reads.js';

/** How often drain() looks again while native reads it waits for are in flight. */
const NATIVE_POLL_MS = 1;

interface Waiter {
  barrier: number;
  nativeBarrier: number;
  resolve: () => void;
}

export class ReadGuard {
  private generation = 0;
  private readonly active = new Map<number, number>();
  private waiters: Waiter[] = [];
  private native: Pick<NativeReadTables, 'started' | 'busyUpTo'> | undefined;
  private polling = false;

  /** Native reads from now on count as reads (attach before the first one starts). */
  attachNative(native: Pick<NativeReadTables, 'started' | 'busyUpTo'>): void {
    this.native = native;
  }

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
    const nativeBarrier = this.native?.started() ?? 0;
    if (!this.busy(barrier, nativeBarrier)) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.waiters.push({ barrier, nativeBarrier, resolve }));
    this.poll();
    return done;
  }

  private busy(barrier: number, nativeBarrier: number): boolean {
    for (const g of this.active.keys()) if (g <= barrier) return true;
    return this.native?.busyUpTo(nativeBarrier) ?? false;
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (this.busy(w.barrier, w.nativeBarrier)) still.push(w);
      else w.resolve();
    }
    this.waiters = still;
  }

  /** Native reads end without telling JS: look again until no waiter is left. */
  private poll(): void {
    if (this.native === undefined || this.polling) return;
    this.polling = true;
    const tick = (): void => {
      this.wake();
      if (this.waiters.length > 0) setTimeout(tick, NATIVE_POLL_MS);
      else this.polling = false;
    };
    setTimeout(tick, NATIVE_POLL_MS);
  }
}
