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
import type { Extent, MapValue } from '../meta/records.js';
import type { NativeReadTables } from './native-reads.js';
import {
  DEDUP_WORDS, EXTENT_WORDS, FINGERPRINT_KEY_WORDS, MAP_WORDS, NUMBER_KEY_WORDS, readExtentWords, readIdWords, readMapWords,
  setFingerprintKey, setNumberKey, writeExtentWords, writeIdWords, writeMapWords,
} from './record-words.js';
import { SlotTable } from './slot-table.js';

/** Share of the budget per kind: the map and extents are read on every write. */
const MAP_SHARE = 0.35;
const EXTENT_SHARE = 0.4;
const DEDUP_SHARE = 0.25;

export interface CacheStats {
  /** Bytes the cache's tables hold (fixed at open). */
  bytes: number;
  hits: number;
  misses: number;
  evictions: number;
}

/** Stores the value words src[at, +words) under number key n. */
function putWords(t: SlotTable, n: number, src: Uint32Array, at: number, words: number): void {
  setNumberKey(t.key, n);
  const slot = t.insert(); // may grow the table: take its arrays after
  t.values.set(src.subarray(at, at + words), slot * words);
}

export class MetaCache {
  private readonly maps: SlotTable;
  private readonly extents: SlotTable;
  private readonly dedup: SlotTable;

  constructor(budgetBytes: number) {
    this.maps = new SlotTable(NUMBER_KEY_WORDS, MAP_WORDS, budgetBytes * MAP_SHARE);
    this.extents = new SlotTable(NUMBER_KEY_WORDS, EXTENT_WORDS, budgetBytes * EXTENT_SHARE);
    this.dedup = new SlotTable(FINGERPRINT_KEY_WORDS, DEDUP_WORDS, budgetBytes * DEDUP_SHARE);
  }

  getMap(lba: number): MapValue | undefined {
    const t = this.maps;
    setNumberKey(t.key, lba);
    const slot = t.find();
    if (slot < 0) return undefined;
    return readMapWords(t.values, slot * MAP_WORDS);
  }

  /** Records the store's map value of `lba`; null (deleted) forgets it. */
  putMap(lba: number, value: MapValue | null): void {
    const t = this.maps;
    setNumberKey(t.key, lba);
    if (value === null) {
      t.remove();
      return;
    }
    this.writeMap(t.insert(), value);
  }

  /** putMap for the warm-up after open: false, changing nothing, when the table has no free room. */
  warmMap(lba: number, value: MapValue): boolean {
    const t = this.maps;
    setNumberKey(t.key, lba);
    const slot = t.insertIfRoom();
    if (slot >= 0) this.writeMap(slot, value);
    return slot >= 0;
  }

  private writeMap(slot: number, value: MapValue): void {
    writeMapWords(this.maps.values, slot * MAP_WORDS, value);
  }

  /** putMap of a value held as words (src[at, +MAP_WORDS): a pending table's). */
  putMapWords(lba: number, src: Uint32Array, at: number): void {
    putWords(this.maps, lba, src, at, MAP_WORDS);
  }

  forgetMap(lba: number): void {
    setNumberKey(this.maps.key, lba);
    this.maps.remove();
  }

  /** A fresh copy of the cached extent record (the caller may mutate it). */
  getExtent(id: number): Extent | undefined {
    const t = this.extents;
    setNumberKey(t.key, id);
    const slot = t.find();
    if (slot < 0) return undefined;
    return readExtentWords(id, t.values, slot * EXTENT_WORDS);
  }

  putExtent(e: Extent): void {
    const t = this.extents;
    setNumberKey(t.key, e.id);
    this.writeExtent(t.insert(), e);
  }

  /** putExtent for the warm-up after open: false, changing nothing, when the table has no free room. */
  warmExtent(e: Extent): boolean {
    const t = this.extents;
    setNumberKey(t.key, e.id);
    const slot = t.insertIfRoom();
    if (slot >= 0) this.writeExtent(slot, e);
    return slot >= 0;
  }

  private writeExtent(slot: number, e: Extent): void {
    writeExtentWords(this.extents.values, slot * EXTENT_WORDS, e);
  }

  /** putExtent of a record held as words (src[at, +EXTENT_WORDS): a pending table's). */
  putExtentWords(id: number, src: Uint32Array, at: number): void {
    putWords(this.extents, id, src, at, EXTENT_WORDS);
  }

  forgetExtent(id: number): void {
    setNumberKey(this.extents.key, id);
    this.extents.remove();
  }

  getDedup(fingerprint: Buffer): number | undefined {
    const t = this.dedup;
    setFingerprintKey(t.key, fingerprint);
    const slot = t.find();
    return slot < 0 ? undefined : readIdWords(t.values, slot * DEDUP_WORDS);
  }

  /** Records the store's H value; null (deleted) forgets it. */
  putDedup(fingerprint: Buffer, extentId: number | null): void {
    setFingerprintKey(this.dedup.key, fingerprint);
    this.putDedupKeyed(extentId);
  }

  /** putDedup of a fingerprint held as words (keys[at, +4): a pending table's). */
  putDedupWords(keys: Uint32Array, at: number, extentId: number | null): void {
    this.dedup.key.set(keys.subarray(at, at + FINGERPRINT_KEY_WORDS));
    this.putDedupKeyed(extentId);
  }

  private putDedupKeyed(extentId: number | null): void {
    const t = this.dedup;
    if (extentId === null) {
      t.remove();
      return;
    }
    const slot = t.insert(); // may grow the table: take its arrays after
    writeIdWords(t.values, slot * DEDUP_WORDS, extentId);
  }

  forgetDedup(fingerprint: Buffer): void {
    setFingerprintKey(this.dedup.key, fingerprint);
    this.dedup.remove();
  }

  /** Lets a native reader read the map and extent tables in place (native-reads.ts). */
  share(tables: NativeReadTables): void {
    this.maps.share((keys, values, state) => tables.attach(0, keys, values, state));
    this.extents.share((keys, values, state) => tables.attach(1, keys, values, state));
  }

  /** Lets the native apply step (native-apply.ts) read all three tables and drop entries in place. */
  shareAll(fn: (kind: number, keys: Uint32Array, values: Uint32Array, state: Uint8Array) => void): void {
    [this.maps, this.extents, this.dedup].forEach((t, kind) => t.share((keys, values, state) => fn(kind, keys, values, state)));
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
