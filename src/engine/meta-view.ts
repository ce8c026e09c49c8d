// The engine's view of the metadata: the committed store plus an overlay of
// changes not yet committed. Lookups go overlay first, then the overlay frozen
// for the commit in flight (if any), then a synchronous store get (awaited gets
// cost ~10x more). freeze() hands the overlay to a group commit, which drops it
// once its batch is applied; this bounds the overlay (COMMIT_RECORDS_MAX) and
// lets new writes proceed while a non-durable commit runs.
import {
  decodeExtent, decodeMapValue, decodeU64, encodeExtent, encodeMapValue, encodeU64, type Extent, type MapValue,
} from '../meta/records.js';
import { eKey, hKey, lKey } from '../meta/keys.js';
import type { MetaOp, MetaStore } from '../meta/store.js';
import { MappedBits } from './mapped-bits.js';

interface Overlay {
  maps: Map<number, MapValue | null>;
  extents: Map<number, Extent | null>;
  dedup: Map<string, { fingerprint: Buffer; extentId: number | null }>;
}

function emptyOverlay(): Overlay {
  return { maps: new Map(), extents: new Map(), dedup: new Map() };
}

export class MetaView {
  private cur: Overlay = emptyOverlay();
  private frozen: Overlay | undefined;

  constructor(
    readonly store: MetaStore,
    readonly mapped: MappedBits,
  ) {}

  /** Map value of an LBA; undefined = reads zeros. */
  getMap(lba: number): MapValue | undefined {
    if (this.mapped.isClear(lba)) return undefined;
    let v = this.cur.maps.get(lba);
    if (v === undefined && this.frozen !== undefined) v = this.frozen.maps.get(lba);
    if (v !== undefined) return v ?? undefined;
    const stored = this.store.getSync(lKey(lba));
    if (stored === undefined) this.mapped.checkAbsent(lba); // a miss the scan contradicts is damage
    return stored === undefined ? undefined : decodeMapValue(stored);
  }

  setMap(lba: number, value: MapValue | null): void {
    this.cur.maps.set(lba, value);
    if (value === null) this.mapped.clear(lba);
    else this.mapped.set(lba);
  }

  /** The extent record; the returned object may be mutated and then passed to putExtent. */
  getExtent(id: number): Extent | undefined {
    let e = this.cur.extents.get(id);
    if (e === undefined && this.frozen !== undefined) e = this.frozen.extents.get(id);
    if (e !== undefined) return e === null ? undefined : { ...e };
    const v = this.store.getSync(eKey(id));
    return v === undefined ? undefined : decodeExtent(id, v);
  }

  putExtent(e: Extent): void {
    this.cur.extents.set(e.id, e);
  }

  deleteExtent(id: number): void {
    this.cur.extents.set(id, null);
  }

  /** `key` is fingerprint.toString('latin1'), passed by callers that already have it. */
  getDedup(fingerprint: Buffer, key = fingerprint.toString('latin1')): number | undefined {
    const d = this.cur.dedup.get(key) ?? this.frozen?.dedup.get(key);
    if (d !== undefined) return d.extentId ?? undefined;
    const v = this.store.getSync(hKey(fingerprint));
    return v === undefined ? undefined : decodeU64(v);
  }

  /** The overlay's entry for a fingerprint: an id, null (deleted), or undefined (not in the overlay). */
  pendingDedup(fingerprint: Buffer, key = fingerprint.toString('latin1')): number | null | undefined {
    return (this.cur.dedup.get(key) ?? this.frozen?.dedup.get(key))?.extentId;
  }

  setDedup(fingerprint: Buffer, extentId: number | null, key = fingerprint.toString('latin1')): void {
    this.cur.dedup.set(key, { fingerprint, extentId });
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
      ops.push(d.extentId === null ? { type: 'del', key } : { type: 'put', key, value: encodeU64(d.extentId) });
    }
    return ops;
  }

  /** The frozen overlay's batch is applied to the store. */
  dropFrozen(): void {
    this.frozen = undefined;
  }

  /** The frozen overlay's batch failed: its changes become pending again, under
   * any newer change made since the freeze, so the next commit retries them. */
  thaw(): void {
    const f = this.frozen;
    if (f === undefined) return;
    this.frozen = undefined;
    for (const [k, v] of this.cur.maps) f.maps.set(k, v);
    for (const [k, v] of this.cur.extents) f.extents.set(k, v);
    for (const [k, v] of this.cur.dedup) f.dedup.set(k, v);
    this.cur = f;
  }
}
