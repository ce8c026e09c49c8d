// The clean-record cache under MetaView's overlays: bounded copies of L, E and
// H records exactly as the store holds them, so that a hot-path lookup the
// overlays miss is answered from RAM instead of a LevelDB getSync. Each kind is
// a SlotTable (typed arrays, CLOCK eviction) sized from one byte budget.
//
// Rule: an entry is either absent or equal to the store's value for its key.
// MetaView fills it from store lookups and from batches once they are applied,
// drops an entry when its key changes in the overlay, and clears everything
// when a failed batch makes the overlays authoritative again (thaw). Absent
// keys are never cached (MappedBits and the dedup filter answer those).
import { extentRecord, type Extent, type MapValue } from '../meta/records.js';
import { setU32le, u32le } from '../util/bytes.js';
import type { NativeReadTables } from './native-reads.js';
import { SlotTable } from './slot-table.js';

/** Share of the budget per kind: the map and extents are read on every write. */
const MAP_SHARE = 0.35;
const EXTENT_SHARE = 0.4;
const DEDUP_SHARE = 0.25;

const TAG_EXTENT = 1;
const TAG_FILL = 2;
const TWO32 = 0x1_0000_0000;

export interface CacheStats {
  /** Bytes the cache's tables hold (fixed at open). */
  bytes: number;
  hits: number;
  misses: number;
  evictions: number;
}

function setNumberKey(t: SlotTable, n: number): void {
  t.key[0] = n >>> 0;
  t.key[1] = Math.floor(n / TWO32);
}

function setFingerprintKey(t: SlotTable, fp: Buffer): void {
  const k = t.key;
  k[0] = u32le(fp, 0);
  k[1] = u32le(fp, 4);
  k[2] = u32le(fp, 8);
  k[3] = u32le(fp, 12);
}

export class MetaCache {
  private readonly maps: SlotTable;
  private readonly extents: SlotTable;
  private readonly dedup: SlotTable;

  constructor(budgetBytes: number) {
    this.maps = new SlotTable(2, 3, budgetBytes * MAP_SHARE);
    this.extents = new SlotTable(2, 8, budgetBytes * EXTENT_SHARE);
    this.dedup = new SlotTable(4, 2, budgetBytes * DEDUP_SHARE);
  }

  getMap(lba: number): MapValue | undefined {
    const t = this.maps;
    setNumberKey(t, lba);
    const slot = t.find();
    if (slot < 0) return undefined;
    const v = t.values;
    const o = slot * 3;
    if (v[o] === TAG_EXTENT) return { kind: 'extent', id: v[o + 1] * TWO32 + v[o + 2] };
    const pattern = Buffer.allocUnsafe(8);
    pattern.writeUInt32BE(v[o + 1], 0);
    pattern.writeUInt32BE(v[o + 2], 4);
    return { kind: 'fill', pattern };
  }

  /** Records the store's map value of `lba`; null (deleted) forgets it. */
  putMap(lba: number, value: MapValue | null): void {
    const t = this.maps;
    setNumberKey(t, lba);
    if (value === null) {
      t.remove();
      return;
    }
    this.writeMap(t.insert(), value);
  }

  /** putMap for the warm-up after open: false, changing nothing, when the table has no free room. */
  warmMap(lba: number, value: MapValue): boolean {
    const t = this.maps;
    setNumberKey(t, lba);
    const slot = t.insertIfRoom();
    if (slot >= 0) this.writeMap(slot, value);
    return slot >= 0;
  }

  private writeMap(slot: number, value: MapValue): void {
    const o = slot * 3;
    const v = this.maps.values;
    if (value.kind === 'extent') {
      v[o] = TAG_EXTENT;
      v[o + 1] = Math.floor(value.id / TWO32);
      v[o + 2] = value.id >>> 0;
    } else {
      v[o] = TAG_FILL;
      v[o + 1] = value.pattern.readUInt32BE(0);
      v[o + 2] = value.pattern.readUInt32BE(4);
    }
  }

  forgetMap(lba: number): void {
    setNumberKey(this.maps, lba);
    this.maps.remove();
  }

  /** A fresh copy of the cached extent record (the caller may mutate it). */
  getExtent(id: number): Extent | undefined {
    const t = this.extents;
    setNumberKey(t, id);
    const slot = t.find();
    if (slot < 0) return undefined;
    const v = t.values;
    const o = slot * 8;
    const fingerprint = Buffer.allocUnsafe(16);
    setU32le(fingerprint, 0, v[o + 4]);
    setU32le(fingerprint, 4, v[o + 5]);
    setU32le(fingerprint, 8, v[o + 6]);
    setU32le(fingerprint, 12, v[o + 7]);
    return extentRecord(id, v[o], v[o + 1], v[o + 2] & 0xffff, v[o + 2] >>> 16, v[o + 3], fingerprint);
  }

  putExtent(e: Extent): void {
    const t = this.extents;
    setNumberKey(t, e.id);
    this.writeExtent(t.insert(), e);
  }

  /** putExtent for the warm-up after open: false, changing nothing, when the table has no free room. */
  warmExtent(e: Extent): boolean {
    const t = this.extents;
    setNumberKey(t, e.id);
    const slot = t.insertIfRoom();
    if (slot >= 0) this.writeExtent(slot, e);
    return slot >= 0;
  }

  private writeExtent(slot: number, e: Extent): void {
    const o = slot * 8;
    const v = this.extents.values;
    v[o] = e.segment;
    v[o + 1] = e.offset;
    v[o + 2] = (e.storedBytes & 0xffff) | (e.codecId << 16);
    v[o + 3] = e.refs;
    const f = e.fingerprint;
    v[o + 4] = u32le(f, 0);
    v[o + 5] = u32le(f, 4);
    v[o + 6] = u32le(f, 8);
    v[o + 7] = u32le(f, 12);
  }

  forgetExtent(id: number): void {
    setNumberKey(this.extents, id);
    this.extents.remove();
  }

  getDedup(fingerprint: Buffer): number | undefined {
    const t = this.dedup;
    setFingerprintKey(t, fingerprint);
    const slot = t.find();
    return slot < 0 ? undefined : t.values[slot * 2] * TWO32 + t.values[slot * 2 + 1];
  }

  /** Records the store's H value; null (deleted) forgets it. */
  putDedup(fingerprint: Buffer, extentId: number | null): void {
    const t = this.dedup;
    setFingerprintKey(t, fingerprint);
    if (extentId === null) {
      t.remove();
      return;
    }
    const o = t.insert() * 2;
    t.values[o] = Math.floor(extentId / TWO32);
    t.values[o + 1] = extentId >>> 0;
  }

  forgetDedup(fingerprint: Buffer): void {
    setFingerprintKey(this.dedup, fingerprint);
    this.dedup.remove();
  }

  /** Lets a native reader read the map and extent tables in place (native-reads.ts). */
  share(tables: NativeReadTables): void {
    this.maps.share((keys, values, state) => tables.attach(0, keys, values, state));
    this.extents.share((keys, values, state) => tables.attach(1, keys, values, state));
  }

  clear(): void {
    this.maps.clear();
    this.extents.clear();
    this.dedup.clear();
  }

  stats(): CacheStats {
    const t = [this.maps, this.extents, this.dedup];
    return {
      bytes: t.reduce((n, x) => n + x.bytes, 0),
      hits: t.reduce((n, x) => n + x.hits, 0),
      misses: t.reduce((n, x) => n + x.misses, 0),
      evictions: t.reduce((n, x) => n + x.evictions, 0),
    };
  }
}
