// The engine's view of the metadata: the committed store plus an overlay of
// changes not yet committed. Lookups go overlay first, then a synchronous store
// get (awaited gets cost ~10x more). The overlay is emptied by each group commit,
// which bounds it (COMMIT_RECORDS_MAX).
import { decodeExtent, decodeU64, encodeExtent, encodeU64, type Extent } from '../meta/records.js';
import { eKey, hKey, lKey } from '../meta/keys.js';
import type { MetaOp, MetaStore } from '../meta/store.js';
import { MappedBits } from './mapped-bits.js';

export class MetaView {
  readonly maps = new Map<number, Buffer | null>();
  readonly extents = new Map<number, Extent | null>();
  readonly dedup = new Map<string, { fingerprint: Buffer; extentId: number | null }>();

  constructor(
    readonly store: MetaStore,
    readonly mapped: MappedBits,
  ) {}

  /** Map value of an LBA; undefined = reads zeros. */
  getMap(lba: number): Buffer | undefined {
    if (this.mapped.isClear(lba)) return undefined;
    const v = this.maps.get(lba);
    if (v !== undefined) return v ?? undefined;
    return this.store.getSync(lKey(lba));
  }

  setMap(lba: number, value: Buffer | null): void {
    this.maps.set(lba, value);
    if (value === null) this.mapped.clear(lba);
    else this.mapped.set(lba);
  }

  /** The extent record; the returned object may be mutated and then passed to putExtent. */
  getExtent(id: number): Extent | undefined {
    const e = this.extents.get(id);
    if (e !== undefined) return e ?? undefined;
    const v = this.store.getSync(eKey(id));
    return v === undefined ? undefined : decodeExtent(id, v);
  }

  putExtent(e: Extent): void {
    this.extents.set(e.id, e);
  }

  deleteExtent(id: number): void {
    this.extents.set(id, null);
  }

  /** `key` is fingerprint.toString('latin1'), passed by callers that already have it. */
  getDedup(fingerprint: Buffer, key = fingerprint.toString('latin1')): number | undefined {
    const d = this.dedup.get(key);
    if (d !== undefined) return d.extentId ?? undefined;
    const v = this.store.getSync(hKey(fingerprint));
    return v === undefined ? undefined : decodeU64(v);
  }

  /** The overlay's entry for a fingerprint: an id, null (deleted), or undefined (not in the overlay). */
  pendingDedup(fingerprint: Buffer, key = fingerprint.toString('latin1')): number | null | undefined {
    return this.dedup.get(key)?.extentId;
  }

  setDedup(fingerprint: Buffer, extentId: number | null, key = fingerprint.toString('latin1')): void {
    this.dedup.set(key, { fingerprint, extentId });
  }

  get pendingRecords(): number {
    return this.maps.size + this.extents.size + this.dedup.size;
  }

  /** The overlay as batch operations (the overlay stays until clear()). */
  ops(): MetaOp[] {
    const ops: MetaOp[] = [];
    for (const [lba, v] of this.maps) {
      ops.push(v === null ? { type: 'del', key: lKey(lba) } : { type: 'put', key: lKey(lba), value: v });
    }
    for (const [id, e] of this.extents) {
      ops.push(e === null ? { type: 'del', key: eKey(id) } : { type: 'put', key: eKey(id), value: encodeExtent(e) });
    }
    for (const d of this.dedup.values()) {
      const key = hKey(d.fingerprint);
      ops.push(d.extentId === null ? { type: 'del', key } : { type: 'put', key, value: encodeU64(d.extentId) });
    }
    return ops;
  }

  clear(): void {
    this.maps.clear();
    this.extents.clear();
    this.dedup.clear();
  }
}
