// Coalesces one-block writes that arrive in the same turn of the event loop
// into one pass through the write path. A ublk queue hands the server a batch
// of requests in one callback, and at queue depth 16 most are single 4 KiB
// writes: each alone pays a scan call, a compression call, a mutex turn, a
// space and journal check and their promises; together they pay them once
// (bench/tools/engine-write-sizes.mjs: ~35 us of CPU per block written one at a
// time, ~15-20 us in 16-block requests, on the build host).
//
// Each write keeps its own journal record. A write whose dedup candidate must
// be read from the pool for the verify compare does not hold up the others:
// they are applied and complete first, unless one of them writes an LBA a
// waiting one also writes (then it waits too, so arrival order holds: two
// writes of one LBA leave the later one's data). A failed group fails each
// write in it (a failed write's blocks are undefined, as on any block device).
import { BLOCK_BYTES } from '../util/units.js';

/** A queued one-block write; the batch runner settles it. */
export interface SmallWrite {
  readonly lba: number;
  readonly buf: Buffer;
  resolve(): void;
  reject(err: unknown): void;
}

export class SmallWrites {
  private pending: SmallWrite[] = [];
  private scheduled = false;

  /** `run` applies a batch (at most `maxBatch` writes, their blocks gathered in
   * `data`) and settles each write once it may complete. */
  constructor(
    private readonly run: (batch: readonly SmallWrite[], data: Buffer) => Promise<void>,
    private readonly maxBatch: number,
  ) {}

  /** Queues a one-block write; the batch goes out once the current turn's work is done. */
  add(lba: number, buf: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ lba, buf, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    });
  }

  /** Sends what is queued now (before a close), synchronously up to the batches' first await. */
  flush(): void {
    this.scheduled = false;
    const all = this.pending;
    this.pending = [];
    for (let at = 0; at < all.length; at += this.maxBatch) this.send(all.slice(at, at + this.maxBatch));
  }

  private send(batch: SmallWrite[]): void {
    // One block needs no gathering copy.
    const data = batch.length === 1 ? batch[0].buf.subarray(0, BLOCK_BYTES) : Buffer.allocUnsafe(batch.length * BLOCK_BYTES);
    if (batch.length > 1) batch.forEach((w, i) => w.buf.copy(data, i * BLOCK_BYTES, 0, BLOCK_BYTES));
    // Settling a write twice is a no-op: whatever the runner left unsettled fails here.
    this.run(batch, data).catch((err: unknown) => {
      for (const w of batch) w.reject(err);
    });
  }
}

/**
 * Which writes of a coalesced batch go now and which after the verify reads:
 * a write waits when its block's dedup candidate is being read, or when it
 * writes an LBA a waiting write also writes (arrival order between them holds).
 */
export function splitByWaits(waits: Uint8Array | undefined, lbas: readonly number[]): { now: number[]; later: number[] } {
  const all = lbas.map((_, i) => i);
  if (waits === undefined) return { now: all, later: [] };
  const held = new Set<number>();
  for (const i of all) if (waits[i] === 1) held.add(lbas[i]);
  const now: number[] = [];
  const later: number[] = [];
  for (const i of all) (held.has(lbas[i]) ? later : now).push(i);
  return { now, later };
}

/** Settles writes `indices` of `batch` with `p` (never rejects). */
export function settleWrites(batch: readonly SmallWrite[], indices: readonly number[], p: Promise<void>): Promise<void> {
  return p.then(
    () => {
      for (const i of indices) batch[i].resolve();
    },
    (err: unknown) => {
      for (const i of indices) batch[i].reject(err);
    },
  );
}
