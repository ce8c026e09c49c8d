// The engine's view of the metadata: the committed store plus an overlay of
// changes not yet committed. Lookups go overlay first, then the overlay frozen
// for the commit in flight (if any), then a synchronous store get (awaited gets
// cost ~10x more). freeze() hands the overlay to a group commit, which drops it
// once its batch is applied; this bounds the overlay (COMMIT_RECORDS_MAX) and
// lets new writes proceed while a non-durable commit runs.
//
// A batch applied without sync is kept (as its overlay) until a durable commit:
// if a later commit fails, LevelDB's log may have lost it (a failed fsync can
// drop unsynced pages, and the reopen replays only what reached the disk), so
// thaw() makes every change since the last durable commit pending again.
//
// Under the overlays, a bounded cache of clean records (meta-cache.ts) answers
// before the store: a store hit fills it, an applied batch refreshes it, a change
// to a key drops its entry, and thaw() clears it (the store may then have lost
// batches the cache saw applied). The dedup filter answers "certainly new".
import assert from 'node:assert';
import {
  decodeExtent, decodeMapValue, decodeU64, EXTENT_VALUE_BYTES, MAP_VALUE_BYTES, encodeU64, type Extent, type MapValue,
} from '../meta/records.js';
import { eKey, extentIdOfKey, hKey, lbaOfKey, lKey, PREFIX_H } from '../meta/keys.js';
import type { MetaOp, MetaStore } from '../meta/store.js';
import type { DedupFilter } from './dedup-filter.js';
import type { MappedBits } from './mapped-bits.js';
import type { MetaCache } from './meta-cache.js';
import { DELETED, EMPTY, LIVE, PendingTable } from './pending-table.js';
import {
  DEDUP_WORDS, EXTENT_WORDS, FINGERPRINT_KEY_WORDS, MAP_WORDS, NUMBER_KEY_WORDS, numberOfKey, readExtentWords, readIdWords,
  readMapWords, setFingerprintKey, setNumberKey, TAG_FILL, writeExtentWords, writeIdWords, writeMapWords,
} from './record-words.js';

/** Pending L, E and H records, as words (record-words.ts): a DELETED entry deletes its key. */
class Overlay {
  readonly maps: PendingTable;
  readonly extents: PendingTable;
  readonly dedup: PendingTable;

  /** Tables sized as `like`'s, when given: the overlay after a commit fills up as the one before did. */
  constructor(like?: Overlay) {
    this.maps = new PendingTable(NUMBER_KEY_WORDS, MAP_WORDS, like?.maps.capacity);
    this.extents = new PendingTable(NUMBER_KEY_WORDS, EXTENT_WORDS, like?.extents.capacity);
    this.dedup = new PendingTable(FINGERPRINT_KEY_WORDS, DEDUP_WORDS, like?.dedup.capacity);
  }

  get size(): number {
    return this.maps.size + this.extents.size + this.dedup.size;
  }

  /** Copies `from`'s entries over this one's (from is the newer). */
  mergeFrom(from: Overlay): void {
    this.maps.mergeFrom(from.maps);
    this.extents.mergeFrom(from.extents);
    this.dedup.mergeFrom(from.dedup);
  }
}

export class MetaView {
  private cur = new Overlay();
  private frozen: Overlay | undefined;
  /** Overlays of batches applied without sync since the last durable commit, oldest first. */
  private unsynced: Overlay[] = [];
  private unsyncedCount = 0;
  /** Where the last findPending() found its key. */
  private hitTable: PendingTable;
  private hitSlot = -1;
  /** Told the current (0) and frozen (1) overlays' tables whenever they change (native-apply.ts). */
  private onTables: ((layer: number, kind: number, t: PendingTable | undefined) => void) | undefined;
  /** Bumped whenever entries leave the overlays (a batch applied, or thawed back). */
  epoch = 0;

  constructor(
    readonly store: MetaStore,
    readonly mapped: MappedBits,
    readonly cache: MetaCache,
    readonly filter: DedupFilter,
  ) {
    // Stored a second time before any code runs: V8 treats a field written only
    // once as a constant, and the first freeze() would then throw away every
    // optimised function that read it (a recompile costs hundreds of writes
    // under emulation).
    this.cur = new Overlay();
    this.frozen = undefined;
    this.hitTable = this.cur.maps;
  }

  /** Map value of an LBA; undefined = reads zeros. */
  getMap(lba: number): MapValue | undefined {
    if (this.mapped.isClear(lba)) return undefined;
    if (this.findPending(this.cur.maps, this.frozen?.maps, lba)) {
      const t = this.hitTable;
      return t.state[this.hitSlot] === DELETED ? undefined : readMapWords(t.values, this.hitSlot * MAP_WORDS);
    }
    const cached = this.cache.getMap(lba);
    if (cached !== undefined) return cached;
    const stored = this.store.getSync(lKey(lba));
    if (stored === undefined) {
      this.mapped.checkAbsent(lba); // a miss the scan contradicts is damage
      return undefined;
    }
    const m = decodeMapValue(stored);
    this.cache.putMap(lba, m);
    return m;
  }

  setMap(lba: number, value: MapValue | null): void {
    const t = this.cur.maps;
    setNumberKey(t.key, lba);
    const slot = t.upsert();
    if (value === null) {
      t.state[slot] = DELETED;
    } else {
      t.state[slot] = LIVE;
      writeMapWords(t.values, slot * MAP_WORDS, value);
    }
    this.cache.forgetMap(lba);
    if (value === null) this.mapped.clear(lba);
    else this.mapped.set(lba);
  }

  /** The extent record; the returned object may be mutated and then passed to putExtent. */
  getExtent(id: number): Extent | undefined {
    if (this.findPending(this.cur.extents, this.frozen?.extents, id)) {
      const t = this.hitTable;
      return t.state[this.hitSlot] === DELETED ? undefined : readExtentWords(id, t.values, this.hitSlot * EXTENT_WORDS);
    }
    const cached = this.cache.getExtent(id);
    if (cached !== undefined) return cached;
    const v = this.store.getSync(eKey(id));
    if (v === undefined) return undefined;
    const stored = decodeExtent(id, v);
    this.cache.putExtent(stored);
    return stored;
  }

  putExtent(e: Extent): void {
    const t = this.cur.extents;
    setNumberKey(t.key, e.id);
    const slot = t.upsert();
    t.state[slot] = LIVE;
    writeExtentWords(t.values, slot * EXTENT_WORDS, e);
    this.cache.forgetExtent(e.id);
  }

  deleteExtent(id: number): void {
    const t = this.cur.extents;
    setNumberKey(t.key, id);
    const slot = t.upsert(); // may grow the table: take its arrays after
    t.state[slot] = DELETED;
    this.cache.forgetExtent(id);
  }

  getDedup(fingerprint: Buffer): number | undefined {
    const pending = this.pendingDedup(fingerprint);
    if (pending !== undefined) return pending ?? undefined;
    if (this.filter.isCertainlyNew(fingerprint)) return undefined;
    const cached = this.cache.getDedup(fingerprint);
    if (cached !== undefined) return cached;
    const v = this.store.getSync(hKey(fingerprint));
    if (v === undefined) return undefined;
    const id = decodeU64(v);
    this.cache.putDedup(fingerprint, id);
    return id;
  }

  /** The overlay's entry for a fingerprint: an id, null (deleted), or undefined (not in the overlay). */
  pendingDedup(fingerprint: Buffer): number | null | undefined {
    const cur = this.cur.dedup;
    setFingerprintKey(cur.key, fingerprint);
    let t = cur;
    let slot = cur.find();
    if (slot < 0 && this.frozen !== undefined) {
      t = this.frozen.dedup;
      t.key.set(cur.key);
      slot = t.find();
    }
    if (slot < 0) return undefined;
    return t.state[slot] === DELETED ? null : readIdWords(t.values, slot * DEDUP_WORDS);
  }

  setDedup(fingerprint: Buffer, extentId: number | null): void {
    const t = this.cur.dedup;
    setFingerprintKey(t.key, fingerprint);
    const slot = t.upsert();
    if (extentId === null) {
      t.state[slot] = DELETED;
    } else {
      t.state[slot] = LIVE;
      writeIdWords(t.values, slot * DEDUP_WORDS, extentId);
    }
    this.cache.forgetDedup(fingerprint);
    if (extentId !== null) this.filter.add(fingerprint);
  }

  /**
   * Fills the cache with L (`kind` 'maps') or E records a store scan read
   * (cache-warm.ts); returns how many entries were taken or skipped before the
   * table ran out of room (all of them when it did not), or -1 ('stale'): the
   * scan's snapshot was taken while `scanEpoch` was current, and a batch applied
   * or thawed since may have changed what the store holds, so nothing is taken.
   * Keys with a pending overlay value are skipped, as for every cache fill.
   */
  warm(kind: 'maps' | 'extents', scanEpoch: number, entries: ReadonlyArray<[Buffer, Buffer]>): number {
    if (scanEpoch !== this.epoch) return -1;
    for (let i = 0; i < entries.length; i++) {
      const [k, v] = entries[i];
      if (kind === 'maps') {
        const n = lbaOfKey(k);
        if (this.findPending(this.cur.maps, this.frozen?.maps, n)) continue;
        if (!this.cache.warmMap(n, decodeMapValue(v))) return i;
      } else {
        const n = extentIdOfKey(k);
        if (this.findPending(this.cur.extents, this.frozen?.extents, n)) continue;
        if (!this.cache.warmExtent(decodeExtent(n, v))) return i;
      }
    }
    return entries.length;
  }

  /** Hands the overlays' tables to `fn` now and whenever they change: a native writer
   * (native-apply.ts) reads both and adds to the current one in place. */
  shareTables(fn: (layer: number, kind: number, t: PendingTable | undefined) => void): void {
    this.onTables = fn;
    this.tablesChanged();
  }

  /** Room for `blocks` blocks' entries in the current overlay: a native writer cannot grow a table. */
  reserve(blocks: number): void {
    this.cur.maps.reserve(blocks);
    this.cur.extents.reserve(2 * blocks);
    this.cur.dedup.reserve(2 * blocks);
  }

  /** Entries a native writer added to the current overlay's tables. */
  addedNatively(maps: number, extents: number, dedup: number): void {
    this.cur.maps.size += maps;
    this.cur.extents.size += extents;
    this.cur.dedup.size += dedup;
  }

  private tablesChanged(): void {
    const fn = this.onTables;
    if (fn === undefined) return;
    const cur = [this.cur.maps, this.cur.extents, this.cur.dedup];
    const frozen = this.frozen === undefined ? [] : [this.frozen.maps, this.frozen.extents, this.frozen.dedup];
    for (let kind = 0; kind < 3; kind++) {
      cur[kind].onAllocate = (t) => fn(0, kind, t);
      fn(0, kind, cur[kind]);
      if (frozen.length > 0) frozen[kind].onAllocate = undefined; // it takes no more entries
      fn(1, kind, frozen[kind]);
    }
  }

  get pendingRecords(): number {
    return this.cur.size;
  }

  /** LBAs with a pending (uncommitted) map value in [from, to) (range operations walk them). */
  pendingMappedIn(from: number, to: number): number[] {
    const t = this.cur.maps;
    const out: number[] = [];
    for (let s = 0; s < t.capacity; s++) {
      if (t.state[s] !== LIVE) continue;
      const lba = numberOfKey(t.keys, s * NUMBER_KEY_WORDS);
      if (lba >= from && lba < to) out.push(lba);
    }
    return out;
  }

  /** Moves the overlay behind a fresh one and returns it as batch operations, made
   * as they are read (the frozen overlay never changes: the store may take its time).
   * The frozen overlay answers lookups until dropFrozen(). */
  freeze(): Iterable<MetaOp> {
    if (this.frozen !== undefined) throw new Error('a frozen overlay is still being committed');
    const o = this.cur;
    this.frozen = o;
    this.cur = new Overlay(o);
    this.tablesChanged();
    return overlayOps(o);
  }

  /** The frozen overlay's batch is applied to the store; `durable`: with sync, so it
   * and every batch before it are on disk. Its values go into the cache first, a
   * piece per turn of the event loop, while it still answers lookups. */
  async dropFrozen(durable: boolean): Promise<void> {
    const f = this.frozen;
    if (f !== undefined) await this.refreshCache(f);
    this.frozen = undefined;
    this.tablesChanged();
    this.epoch += 1;
    if (durable) {
      this.unsynced = [];
      this.unsyncedCount = 0;
    } else if (f !== undefined) {
      this.unsynced.push(f);
      this.unsyncedCount += f.size;
    }
  }

  /** An applied batch's values are now the store's: the cache may hold them,
   * except where the current overlay already changed the key again (a native
   * reader reads the cache without the overlays: native-reads.ts). */
  private async refreshCache(o: Overlay): Promise<void> {
    // Read at each entry: writes may change keys again between the pieces.
    await eachEntryInPieces(o.maps, (s, del) => {
      const lba = numberOfKey(o.maps.keys, s * NUMBER_KEY_WORDS);
      if (this.findPending(this.cur.maps, undefined, lba)) return;
      if (del) this.cache.forgetMap(lba);
      else this.cache.putMapWords(lba, o.maps.values, s * MAP_WORDS);
    });
    await eachEntryInPieces(o.extents, (s, del) => {
      const id = numberOfKey(o.extents.keys, s * NUMBER_KEY_WORDS);
      if (del) this.cache.forgetExtent(id);
      else if (!this.findPending(this.cur.extents, undefined, id)) this.cache.putExtentWords(id, o.extents.values, s * EXTENT_WORDS);
    });
    await eachEntryInPieces(o.dedup, (s, del) => {
      this.cache.putDedupWords(o.dedup.keys, s * FINGERPRINT_KEY_WORDS, del ? null : readIdWords(o.dedup.values, s * DEDUP_WORDS));
    });
  }

  /** Records applied without sync since the last durable commit (kept in RAM until then). */
  get unsyncedRecords(): number {
    return this.unsyncedCount;
  }

  /** A batch failed: every change since the last durable commit (the batches applied
   * without sync, the frozen one, then newer ones) becomes pending again, newest
   * winning, so the next commit rewrites them all. */
  thaw(): void {
    // The store may have lost batches the cache saw applied; the overlays answer for them.
    this.cache.clear();
    this.epoch += 1;
    if (this.frozen === undefined && this.unsynced.length === 0) return;
    const merged = new Overlay();
    for (const o of this.unsynced) merged.mergeFrom(o);
    if (this.frozen !== undefined) merged.mergeFrom(this.frozen);
    merged.mergeFrom(this.cur);
    this.cur = merged;
    this.frozen = undefined;
    this.tablesChanged();
    this.unsynced = [];
    this.unsyncedCount = 0;
  }

  /** Whether `cur`, else `frozen`, holds number key `n`; if so, where: hitTable and
   * hitSlot (fields, not a returned pair: the hot path allocates nothing). */
  private findPending(cur: PendingTable, frozen: PendingTable | undefined, n: number): boolean {
    setNumberKey(cur.key, n);
    let slot = cur.find();
    let t = cur;
    if (slot < 0 && frozen !== undefined) {
      setNumberKey(frozen.key, n);
      slot = frozen.find();
      t = frozen;
    }
    this.hitTable = t;
    this.hitSlot = slot;
    return slot >= 0;
  }
}

/** A frozen overlay's records as batch operations: maps, extents, dedup entries. */
function* overlayOps(o: Overlay): Generator<MetaOp> {
  for (let s = 0; s < o.maps.capacity; s++) {
    if (o.maps.state[s] === EMPTY) continue;
    const key = lKey(numberOfKey(o.maps.keys, s * NUMBER_KEY_WORDS));
    yield o.maps.state[s] === DELETED ? { type: 'del', key } : { type: 'put', key, value: mapRecord(o.maps.values, s * MAP_WORDS) };
  }
  for (let s = 0; s < o.extents.capacity; s++) {
    if (o.extents.state[s] === EMPTY) continue;
    const key = eKey(numberOfKey(o.extents.keys, s * NUMBER_KEY_WORDS));
    yield o.extents.state[s] === DELETED ? { type: 'del', key } : { type: 'put', key, value: extentRecordBytes(o.extents.values, s * EXTENT_WORDS) };
  }
  for (let s = 0; s < o.dedup.capacity; s++) {
    if (o.dedup.state[s] === EMPTY) continue;
    const key = dedupKey(o.dedup.keys, s * FINGERPRINT_KEY_WORDS);
    yield o.dedup.state[s] === DELETED ? { type: 'del', key } : { type: 'put', key, value: encodeU64(readIdWords(o.dedup.values, s * DEDUP_WORDS)) };
  }
}

/** Entries handled per turn of the event loop by eachEntryInPieces. */
const ENTRIES_PER_TURN = 512;

/** Calls fn(slot, deleted) for every entry of t, yielding to the event loop between
 * pieces (requests are served in between); t must not change meanwhile. */
async function eachEntryInPieces(t: PendingTable, fn: (slot: number, deleted: boolean) => void): Promise<void> {
  let n = 0;
  for (let s = 0; s < t.capacity; s++) {
    if (t.state[s] === EMPTY) continue;
    fn(s, t.state[s] === DELETED);
    if (++n % ENTRIES_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The L record value of map words (encodeMapValue's bytes). */
function mapRecord(v: Uint32Array, o: number): Buffer {
  assert(v[o + 1] !== 0 || v[o + 2] !== 0 || v[o] !== TAG_FILL, 'zero blocks are not mapped');
  const out = Buffer.allocUnsafe(MAP_VALUE_BYTES);
  out[0] = v[o];
  out.writeUInt32BE(v[o + 1], 1);
  out.writeUInt32BE(v[o + 2], 5);
  return out;
}

/** The E record value of extent words (encodeExtent's bytes). */
function extentRecordBytes(v: Uint32Array, o: number): Buffer {
  assert(v[o + 3] > 0, 'an extent without references is deleted, not stored');
  const out = Buffer.allocUnsafe(EXTENT_VALUE_BYTES);
  out.writeUInt32BE(v[o], 0);
  out.writeUInt32BE(v[o + 1], 4);
  out.writeUInt16BE(v[o + 2] & 0xffff, 8);
  out.writeUInt8(v[o + 2] >>> 16, 10);
  out.writeUInt32BE(v[o + 3], 11);
  for (let i = 0; i < 4; i++) out.writeUInt32LE(v[o + 4 + i], 15 + 4 * i);
  return out;
}

/** The H key of fingerprint words (hKey's bytes). */
function dedupKey(keys: Uint32Array, at: number): Buffer {
  const out = Buffer.allocUnsafe(17);
  out[0] = PREFIX_H;
  for (let i = 0; i < 4; i++) out.writeUInt32LE(keys[at + i], 1 + 4 * i);
  return out;
}
