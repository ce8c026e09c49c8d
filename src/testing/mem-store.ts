// In-memory MetaStore that models LevelDB's crash semantics for tests: batches
// apply in order; batches written without sync after the last synced one sit in
// `unsynced`; crash() keeps a (seeded) prefix of them and loses the rest. The
// store that crashed goes dead: later calls succeed without effect, so an
// abandoned engine cannot touch the state the next incarnation opens.
import assert from 'node:assert';
import type { MetaOp, MetaStore } from '../meta/store.js';

type Table = Map<string, Buffer>;

function apply(table: Table, ops: MetaOp[]): void {
  for (const op of ops) {
    const k = op.key.toString('latin1');
    if (op.type === 'put') table.set(k, Buffer.from(op.value));
    else table.delete(k);
  }
}

export class MemMetaStore implements MetaStore {
  private readonly current: Table;
  private readonly durable: Table;
  private unsynced: MetaOp[][] = [];
  private sortedKeys: string[] | undefined;
  private dead = false;
  batches = 0;
  syncs = 0;
  /** While set, batch rejects with it and applies nothing (tests inject ENOSPC). */
  failBatches: Error | undefined;
  /** While set, a sync batch rejects with it and the store forgets every unsynced
   * batch: LevelDB after its log's fsync failed and the kernel dropped the unsynced
   * pages, as the reopen that follows would see it. */
  failSyncLosingUnsynced: Error | undefined;

  constructor(durable?: Table) {
    this.durable = new Map(durable ?? []);
    this.current = new Map(this.durable);
  }

  getSync(key: Buffer): Buffer | undefined {
    if (this.dead) return undefined;
    return this.current.get(key.toString('latin1'));
  }

  async batch(ops: Iterable<MetaOp>, sync: boolean): Promise<void> {
    if (this.dead) return;
    if (this.failBatches !== undefined) throw this.failBatches;
    if (sync && this.failSyncLosingUnsynced !== undefined) {
      this.current.clear();
      for (const [k, v] of this.durable) this.current.set(k, v);
      this.sortedKeys = undefined;
      this.unsynced = [];
      throw this.failSyncLosingUnsynced;
    }
    const copy = Array.from(ops, (op) =>
      op.type === 'put'
        ? { type: 'put' as const, key: Buffer.from(op.key), value: Buffer.from(op.value) }
        : { type: 'del' as const, key: Buffer.from(op.key) },
    );
    apply(this.current, copy);
    this.sortedKeys = undefined;
    this.batches += 1;
    this.unsynced.push(copy);
    if (sync) {
      this.syncs += 1;
      for (const b of this.unsynced) apply(this.durable, b);
      this.unsynced = [];
    }
    await Promise.resolve();
  }

  async scan(gte: Buffer, lt: Buffer, limit: number): Promise<Array<[Buffer, Buffer]>> {
    if (this.dead) return [];
    this.sortedKeys ??= [...this.current.keys()].sort();
    const lo = gte.toString('latin1');
    const hi = lt.toString('latin1');
    const out: Array<[Buffer, Buffer]> = [];
    let i = lowerBound(this.sortedKeys, lo);
    for (; i < this.sortedKeys.length && out.length < limit; i++) {
      const k = this.sortedKeys[i];
      if (k >= hi) break;
      out.push([Buffer.from(k, 'latin1'), this.current.get(k)!]);
    }
    await Promise.resolve();
    return out;
  }

  async scanKeys(gte: Buffer, lt: Buffer, limit: number): Promise<Buffer[]> {
    return (await this.scan(gte, lt, limit)).map(([k]) => k);
  }

  async sizeBytes(): Promise<number> {
    let total = 0;
    for (const [k, v] of this.current) total += k.length + v.length;
    return total;
  }

  async close(): Promise<void> {}

  /** Simulates a crash: returns the store a restarted process would open, keeping
   * `keepBatches` (0..pendingBatches) of the unsynced batches, and kills this one. */
  crash(keepBatches: number): MemMetaStore {
    assert(keepBatches >= 0 && keepBatches <= this.unsynced.length);
    const survived = new Map(this.durable);
    for (const b of this.unsynced.slice(0, keepBatches)) apply(survived, b);
    this.dead = true;
    return new MemMetaStore(survived);
  }

  /** A copy of the durable state, as a backup taken now would hold (this store lives on). */
  backup(): MemMetaStore {
    return new MemMetaStore(this.durable);
  }

  get pendingBatches(): number {
    return this.unsynced.length;
  }
}

function lowerBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
