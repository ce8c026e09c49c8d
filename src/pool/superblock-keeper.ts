// SuperblockKeeper: the one writer of an open pool's superblock. It records the
// sequence of the last metadata commit known durable (format.ts, offset 64) so
// that open can refuse metadata LevelDB recovered to an older state.
//
// Contract:
//  - noteDurable(seq) is called after a metadata batch with that sequence was
//    synced; the copy is written in the background, never delaying the FLUSH that
//    made it durable. Calls coalesce: at most one write is in flight.
//  - The recorded sequence never exceeds one whose batch is durable (it is written
//    only after the batch's sync resolved), so a crash in between can leave the
//    record behind the metadata (harmless) but never ahead of it (a false refusal).
//  - Each write goes to the copy that is not the newest valid one, followed by an
//    fdatasync, so a torn write always leaves the other copy valid. A failed write
//    is retried on the same copy.
//  - A failed background fdatasync is reported to `onFailure`, never swallowed: the
//    keeper shares the pool's file, and Linux reports a writeback error to one
//    fdatasync only, so the error the keeper saw may be the one that says segment
//    data was lost. The engine treats it as its own failed pool fdatasync. A failed
//    pwrite (a full filesystem, say) only delays the record; a later one retries.
//  - All superblock writes of an open pool (resize too) go through one chain, so
//    two never overlap (both would write the same copy). close() appends the last
//    write to it; afterwards noteDurable writes nothing and rewrite refuses.
//  - Background records are at least SEQ_RECORD_INTERVAL_MS apart (bounded cost).
import assert from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { SEQ_RECORD_INTERVAL_MS } from '../util/limits.js';
import { PoolSyncError, writeSlot, type Superblock } from './format.js';
import type { PoolStore } from './store.js';

export class SuperblockKeeper {
  private next: number;
  private wanted: number;
  private queued = false;
  private lastRecordMs = 0;
  private chain: Promise<void> = Promise.resolve();
  /** Set by close(): the last write of this keeper. */
  private closing: Promise<void> | undefined;

  /** `newestSlot`: the copy readSuperblockCopies chose (0 or 1); `onFailure` gets every
   * failed background fdatasync. */
  constructor(
    private readonly pool: PoolStore,
    private current: Superblock,
    newestSlot: number,
    private readonly onFailure: (err: unknown) => void,
  ) {
    assert(newestSlot === 0 || newestSlot === 1);
    this.next = 1 - newestSlot;
    this.wanted = current.durableSeq;
  }

  get sb(): Superblock {
    return this.current;
  }

  /** The commit with sequence `seq` is durable: record it soon, in the background. */
  noteDurable(seq: number): void {
    assert(Number.isSafeInteger(seq) && seq >= 0);
    if (seq <= this.wanted) return;
    this.wanted = seq;
    if (this.queued || this.closing) return; // a queued run, or close's own write, records it
    this.queued = true;
    this.chain = this.chain.then(() => this.recordWanted());
  }

  /** Changes geometry (resize): both copies, one at a time, after pending records. */
  rewrite(fields: Partial<Pick<Superblock, 'logicalBytes' | 'segmentCount'>>): Promise<Superblock> {
    if (this.closing) return Promise.reject(new Error('the superblock keeper is closed'));
    const run = this.chain.then(async () => {
      await this.writeNext({ ...this.current, ...fields });
      await this.writeNext(this.current);
      return this.current;
    });
    this.chain = run.then(() => undefined, () => undefined);
    return run;
  }

  /**
   * Waits for background writes, then records the last durable sequence (one
   * noted while this waits included). Idempotent; nothing is written after it resolved.
   */
  close(): Promise<void> {
    this.closing ??= this.chain.then(async () => {
      if (this.current.durableSeq < this.wanted) await this.writeNext({ ...this.current, durableSeq: this.wanted });
    });
    return this.closing;
  }

  private async recordWanted(): Promise<void> {
    const waitMs = this.lastRecordMs + SEQ_RECORD_INTERVAL_MS - Date.now();
    if (waitMs > 0) await sleep(waitMs);
    this.queued = false; // a later noteDurable queues another run behind this one
    if (this.current.durableSeq >= this.wanted) return;
    this.lastRecordMs = Date.now();
    try {
      await this.writeNext({ ...this.current, durableSeq: this.wanted });
    } catch (err) {
      if (err instanceof PoolSyncError) this.onFailure(err.original);
    }
  }

  private async writeNext(sb: Superblock): Promise<void> {
    assert(sb.durableSeq >= this.current.durableSeq, 'the durable sequence never goes back');
    this.current = await writeSlot(this.pool, sb, this.next);
    this.next = 1 - this.next;
  }
}
