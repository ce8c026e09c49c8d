// Coalesces one-block writes that arrive in the same turn of the event loop
// into one pass through the write path. A ublk queue hands the server a batch
// of requests in one callback, and at queue depth 16 most are single 4 KiB
// writes: each alone pays a scan call, a compression call, a mutex turn, a
// space and journal check and their promises; together they pay them once
// (bench/tools/engine-write-sizes.mjs: ~35 us of CPU per block written one at a
// time, ~15-20 us in 16-block requests, on the build host).
//
// Each write keeps its own journal record and completes with the batch; a
// batch that fails fails every write in it (a failed write's blocks are
// undefined, as on any block device). Writes are applied in arrival order, so
// two writes of one LBA in a batch leave the later one's data.
import { BLOCK_BYTES } from '../util/units.js';

export interface SmallWrite {
  readonly lba: number;
  readonly buf: Buffer;
}

interface Pending extends SmallWrite {
  resolve(): void;
  reject(err: unknown): void;
}

export class SmallWrites {
  private pending: Pending[] = [];
  private scheduled = false;

  /** `run` applies a batch (at most `maxBatch` writes) and settles when all of it may complete. */
  constructor(
    private readonly run: (lbas: readonly number[], writes: readonly SmallWrite[], data: Buffer) => Promise<void>,
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

  private send(batch: Pending[]): void {
    const lbas = batch.map((w) => w.lba);
    // One block needs no gathering copy.
    const data = batch.length === 1 ? batch[0].buf.subarray(0, BLOCK_BYTES) : Buffer.allocUnsafe(batch.length * BLOCK_BYTES);
    if (batch.length > 1) batch.forEach((w, i) => w.buf.copy(data, i * BLOCK_BYTES, 0, BLOCK_BYTES));
    this.run(lbas, batch, data).then(
      () => {
        for (const w of batch) w.resolve();
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}
