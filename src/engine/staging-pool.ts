// Staging buffers for the compressed payloads of write batches prepared
// outside the engine mutex (write-path.ts, prepareWrite): each batch in
// preparation needs its own, and a fresh one per batch cost its allocation and
// a page fault per 4 KiB touched. Two size classes keep a 4 KiB write from
// holding a buffer sized for 1 MiB; a few of each are kept for reuse.
import { stagingBytes } from '../compress/index.js';

/** Batches up to this many blocks take a small buffer, larger ones (up to PREPARED_BLOCKS_MAX) a big one. */
const SMALL_BLOCKS = 16;
/** Largest batch prepared outside the mutex; larger writes are prepared under it, chunk by chunk. */
export const PREPARED_BLOCKS_MAX = 256;
const SMALL_KEPT = 32;
const BIG_KEPT = 4;

export class StagingPool {
  private readonly small: Buffer[] = [];
  private readonly big: Buffer[] = [];

  /** A buffer for a batch of `blocks` (<= PREPARED_BLOCKS_MAX); give it back once applied. */
  take(blocks: number): Buffer {
    if (blocks <= SMALL_BLOCKS) return this.small.pop() ?? Buffer.allocUnsafe(stagingBytes(SMALL_BLOCKS));
    return this.big.pop() ?? Buffer.allocUnsafe(stagingBytes(PREPARED_BLOCKS_MAX));
  }

  give(buf: Buffer): void {
    if (buf.length === stagingBytes(SMALL_BLOCKS)) {
      if (this.small.length < SMALL_KEPT) this.small.push(buf);
    } else if (this.big.length < BIG_KEPT) {
      this.big.push(buf);
    }
  }
}
