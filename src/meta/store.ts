// MetaStore: what the engine needs from an ordered key-value store. Keys and
// values are Buffers compared bytewise.
//
// Contract (LevelDB's): a batch is atomic and batches apply in order. A batch
// written with sync=true is durable when its promise resolves, and so is every
// batch before it. After a crash, a suffix of the batches written without sync
// since the last synced one may be lost; nothing else is.

import { keySuccessor } from './keys.js';
import { SCAN_CHUNK_ENTRIES } from '../util/limits.js';

export type MetaOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

export interface MetaStore {
  /** Point lookup; synchronous because an awaited get costs ~10x more (deps-bench). */
  getSync(key: Buffer): Buffer | undefined;
  /** Applies ops atomically, in order after every earlier batch. The store may read
   * `ops` over several turns of the event loop (the caller keeps them unchanged until
   * the promise settles): a large batch does not hold the thread for its whole length. */
  batch(ops: Iterable<MetaOp>, sync: boolean): Promise<void>;
  /** Up to `limit` entries with gte <= key < lt, in key order. */
  scan(gte: Buffer, lt: Buffer, limit: number): Promise<Array<[Buffer, Buffer]>>;
  /** The keys scan() would return, without their values (half the copies per entry). */
  scanKeys(gte: Buffer, lt: Buffer, limit: number): Promise<Buffer[]>;
  /** Bytes the store occupies on its medium (approximate; for stats and benchmarks). */
  sizeBytes(): Promise<number>;
  /** Waits for pending batches and releases the store. */
  close(): Promise<void>;
  /** Closes and reopens the store after a failed batch (LevelDB refuses every later
   * write after some failures). Must fail without closing when it cannot reopen now. */
  reopen?(): Promise<void>;
}

/** Calls `each` with every key in [gte, lt), in order, reading SCAN_CHUNK_ENTRIES keys per scan. */
export async function forEachKey(meta: MetaStore, gte: Buffer, lt: Buffer, each: (key: Buffer) => void): Promise<void> {
  let from = gte;
  for (;;) {
    const keys = await meta.scanKeys(from, lt, SCAN_CHUNK_ENTRIES);
    for (const k of keys) each(k);
    if (keys.length < SCAN_CHUNK_ENTRIES) return;
    from = keySuccessor(keys[keys.length - 1]);
  }
}
