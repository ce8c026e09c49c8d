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
import {
  copyExtent, decodeExtent, decodeMapValue, decodeU64, encodeExtent, encodeMapValue, encodeU64, type Extent, type MapValue,
} from '../meta/records.js';
import { eKey, extentIdOfKey, hKey, lbaOfKey, lKey } from '../meta/keys.js';
import type { MetaOp, MetaStore } from '../meta/store.js';
import type { DedupFilter } from './dedup-filter.js';
import type { MappedBits } from './mapped-bits.js';
import type { MetaCache } from './meta-cache.js';

interface Overlay {
  maps: Map<number, MapValue | null>;
  extents: Map<number, Extent | null>;
  dedup: Map<string, PendingDedup>;
}

/** A pending H record. `extentId` is NO_EXTENT when the record is deleted: a
 * number either way, so the field keeps one representation (a field that holds
 * numbers and then null makes V8 throw away the code that read it). */
interface PendingDedup {
  fingerprint: Buffer;
  extentId: number;
}

const NO_EXTENT = -1;

function emptyOverlay(): Overlay {
  return { maps: new Map(), extents: new Map(), dedup: new Map() };
}

function overlaySize(o: Overlay): number {
  return o.maps.size + o.extents.size + o.dedup.size;
}

/** Copies `from`'s entries over `into`'s (from is the newer). */
function mergeInto(into: Overlay, from: Overlay): void {
  for (const [k, v] of from.maps) into.maps.set(k, v);
  for (const [k, v] of from.extents) into.extents.set(k, v);
  for (const [k, v] of from.dedup) into.dedup.set(k, v);
}

export class MetaView {
  private cur: Overlay = emptyOverlay();
  private frozen: Overlay | undefined;
  /** Overlays of batches applied without sync since the last durable commit, oldest first. */
  private unsynced: Overlay[] = [];
  private unsyncedCount = 0;
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
    this.cur = emptyOverlay();
    this.frozen = undefined;
  }

  /** Map value of an LBA; undefined = reads zeros. */
  getMap(lba: number): MapValue | undefined {
    if (this.mapped.isClear(lba)) return undefined;
    let v = this.cur.maps.get(lba);
    if (v === undefined && this.frozen !== undefined) v = this.frozen.maps.get(lba);
    if (v !== undefined) return v ?? undefined;
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
    this.cur.maps.set(lba, value);
    this.cache.forgetMap(lba);
    if (value === null) this.mapped.clear(lba);
    else this.mapped.set(lba);
  }

  /** The extent record; the returned object may be mutated and then passed to putExtent. */
  getExtent(id: number): Extent | undefined {
    let e = this.cur.extents.get(id);
    if (e === undefined && this.frozen !== undefined) e = this.frozen.extents.get(id);
    if (e !== undefined) return e === null ? undefined : copyExtent(e);
    const cached = this.cache.getExtent(id);
    if (cached !== undefined) return cached;
    const v = this.store.getSync(eKey(id));
    if (v === undefined) return undefined;
    const stored = decodeExtent(id, v);
    this.cache.putExtent(stored);
    return copyExtent(stored);
  }

  putExtent(e: Extent): void {
    this.cur.extents.set(e.id, e);
    this.cache.forgetExtent(e.id);
  }

  deleteExtent(id: number): void {
    this.cur.extents.set(id, null);
    this.cache.forgetExtent(id);
  }

  /** `key` is fingerprint.toString('latin1'), passed by callers that already have it. */
  getDedup(fingerprint: Buffer, key = fingerprint.toString('latin1')): number | undefined {
    const d = this.cur.dedup.get(key) ?? this.frozen?.dedup.get(key);
    if (d !== undefined) return d.extentId === NO_EXTENT ? undefined : d.extentId;
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
  pendingDedup(fingerprint: Buffer, key = fingerprint.toString('latin1')): number | null | undefined {
    const d = this.cur.dedup.get(key) ?? this.frozen?.dedup.get(key);
    if (d === undefined) return undefined;
    return d.extentId === NO_EXTENT ? null : d.extentId;
  }

  setDedup(fingerprint: Buffer, extentId: number | null, key = fingerprint.toString('latin1')): void {
    this.cur.dedup.set(key, { fingerprint, extentId: extentId ?? NO_EXTENT });
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
        if (this.cur.maps.has(n) || this.frozen?.maps.has(n) === true) continue;
        if (!this.cache.warmMap(n, decodeMapValue(v))) return i;
      } else {
        const n = extentIdOfKey(k);
        if (this.cur.extents.has(n) || this.frozen?.extents.has(n) === true) continue;
        if (!this.cache.warmExtent(decodeExtent(n, v))) return i;
      }
    }
    return entries.length;
  }

  get pendingRecords(): number {
    return this.cur.maps.size + this.cur.extents.size + this.cur.dedup.size;
  }

  /** Pending map entries (read-only use: range operations walk them). */
  get pendingMaps(): ReadonlyMap<number, MapValue | null> {
    return this.cur.maps;
  }

  /** Moves the overlay behind a fresh one and returns it as batch operations.
   * The frozen overlay answers lookups until dropFrozen(). */
  freeze(): MetaOp[] {
    if (this.frozen !== undefined) throw new Error('a frozen overlay is still being committed');
    const o = this.cur;
    this.frozen = o;
    this.cur = emptyOverlay();
    const ops: MetaOp[] = [];
    for (const [lba, v] of o.maps) {
      ops.push(v === null ? { type: 'del', key: lKey(lba) } : { type: 'put', key: lKey(lba), value: encodeMapValue(v) });
    }
    for (const [id, e] of o.extents) {
      ops.push(e === null ? { type: 'del', key: eKey(id) } : { type: 'put', key: eKey(id), value: encodeExtent(e) });
    }
    for (const d of o.dedup.values()) {
      const key = hKey(d.fingerprint);
      ops.push(d.extentId === NO_EXTENT ? { type: 'del', key } : { type: 'put', key, value: encodeU64(d.extentId) });
    }
    return ops;
  }

  /** The frozen overlay's batch is applied to the store; `durable`: with sync, so it
   * and every batch before it are on disk. */
  dropFrozen(durable: boolean): void {
    const f = this.frozen;
    this.frozen = undefined;
    this.epoch += 1;
    if (f !== undefined) this.refreshCache(f);
    if (durable) {
      this.unsynced = [];
      this.unsyncedCount = 0;
    } else if (f !== undefined) {
      this.unsynced.push(f);
      this.unsyncedCount += overlaySize(f);
    }
  }

  /** An applied batch's values are now the store's: the cache may hold them,
   * except where the current overlay already changed the key again (a native
   * reader reads the cache without the overlays: native-reads.ts). */
  private refreshCache(o: Overlay): void {
    const cur = this.cur;
    for (const [lba, v] of o.maps) if (!cur.maps.has(lba)) this.cache.putMap(lba, v);
    for (const [id, e] of o.extents) {
      if (e === null) this.cache.forgetExtent(id);
      else if (!cur.extents.has(id)) this.cache.putExtent(e);
    }
    for (const d of o.dedup.values()) this.cache.putDedup(d.fingerprint, d.extentId === NO_EXTENT ? null : d.extentId);
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
    const merged = emptyOverlay();
    for (const o of this.unsynced) mergeInto(merged, o);
    if (this.frozen !== undefined) mergeInto(merged, this.frozen);
    mergeInto(merged, this.cur);
    this.cur = merged;
    this.frozen = undefined;
    this.unsynced = [];
    this.unsyncedCount = 0;
  }
}
