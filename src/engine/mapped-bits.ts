// A RAM bitmap of LBAs that may be mapped (1 bit per 4 KiB block: 32 MiB per TiB
// logical, inside the G5 budget). A clear bit lets the write and read paths skip
// a LevelDB lookup for blocks never written, which is most of them on a fresh or
// sparse volume. Invariant: a clear bit means "not mapped" only once `complete`;
// set bits mean "maybe": a stale set bit costs one lookup, never a wrong answer.
// On open the bitmap is filled by a background scan of the L keys; until then
// every lookup goes to the store.
//
// A second bitmap marks LBAs this process changed. A bit the scan set on an LBA
// never changed since is certain: the L key exists in the store. LevelDB answers a
// point lookup through table filters and indexes that the scan does not use, so a
// lookup missing such a key means damaged metadata (a flipped bloom-filter bit made
// a mapped block read as zeros): it is an error, never zeros.
import assert from 'node:assert';
import { UcError } from '../util/errors.js';

export class MappedBits {
  private bits: Uint8Array;
  private touched: Uint8Array;
  private scanned = false;
  /** Told the bitmap, its size and completeness whenever one changes (a native reader reads it in place). */
  private readonly onChange: Array<(bits: Uint8Array, blocks: number, complete: boolean) => void> = [];

  /** Clear bits are certain: the open scan finished. */
  get complete(): boolean {
    return this.scanned;
  }

  set complete(done: boolean) {
    this.scanned = done;
    for (const fn of this.onChange) fn(this.bits, this.blocks, done);
  }

  /** Hands the bitmap to `fn` now and after every change of array or completeness. */
  share(fn: (bits: Uint8Array, blocks: number, complete: boolean) => void): void {
    this.onChange.push(fn);
    fn(this.bits, this.blocks, this.scanned);
  }

  constructor(private blocks: number) {
    this.bits = new Uint8Array(Math.ceil(blocks / 8));
    this.touched = new Uint8Array(this.bits.length);
  }

  /** True when the block is certainly unmapped. */
  isClear(lba: number): boolean {
    return this.complete && lba < this.blocks && (this.bits[lba >>> 3] & (1 << (lba & 7))) === 0;
  }

  /** This process mapped the LBA. */
  set(lba: number): void {
    if (lba >= this.blocks) return;
    this.bits[lba >>> 3] |= 1 << (lba & 7);
    this.touched[lba >>> 3] |= 1 << (lba & 7);
  }

  /** This process unmapped the LBA. */
  clear(lba: number): void {
    if (lba >= this.blocks) return;
    this.bits[lba >>> 3] &= ~(1 << (lba & 7));
    this.touched[lba >>> 3] |= 1 << (lba & 7);
  }

  /** The scan found the LBA's L key in the store. */
  seen(lba: number): void {
    if (lba < this.blocks) this.bits[lba >>> 3] |= 1 << (lba & 7);
  }

  /** This process mapped or unmapped the LBA since open. */
  wasTouched(lba: number): boolean {
    return lba < this.blocks && (this.touched[lba >>> 3] & (1 << (lba & 7))) !== 0;
  }

  /** A point lookup of the LBA found no L key: throws if the scan saw one (see top). */
  checkAbsent(lba: number): void {
    if (lba >= this.blocks) return;
    const bit = 1 << (lba & 7);
    if ((this.bits[lba >>> 3] & bit) === 0 || (this.touched[lba >>> 3] & bit) !== 0) return;
    throw new UcError('UC_META_CORRUPT', `lba ${lba}: the metadata scan lists it but a point lookup misses it (damaged table)`);
  }

  resize(blocks: number): void {
    assert(Number.isSafeInteger(blocks) && blocks >= 0);
    const n = new Uint8Array(Math.ceil(blocks / 8));
    n.set(this.bits.subarray(0, Math.min(n.length, this.bits.length)));
    this.bits = n;
    const t = new Uint8Array(n.length);
    t.set(this.touched.subarray(0, Math.min(t.length, this.touched.length)));
    this.touched = t;
    this.blocks = blocks;
    for (const fn of this.onChange) fn(this.bits, this.blocks, this.scanned);
  }

  get sizeBytes(): number {
    return this.bits.length + this.touched.length;
  }
}
