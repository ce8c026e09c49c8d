// A RAM bitmap of LBAs that may be mapped (1 bit per 4 KiB block: 32 MiB per TiB
// logical, inside the G5 budget). A clear bit lets the write and read paths skip
// a LevelDB lookup for blocks never written, which is most of them on a fresh or
// sparse volume. Invariant: a clear bit means "not mapped" only once `complete`;
// set bits mean "maybe": a stale set bit costs one lookup, never a wrong answer.
// On open the bitmap is filled by a background scan of the L keys; until then
// every lookup goes to the store.
import assert from 'node:assert';

export class MappedBits {
  private bits: Uint8Array;
  complete = false;

  constructor(private blocks: number) {
    this.bits = new Uint8Array(Math.ceil(blocks / 8));
  }

  /** True when the block is certainly unmapped. */
  isClear(lba: number): boolean {
    return this.complete && lba < this.blocks && (this.bits[lba >>> 3] & (1 << (lba & 7))) === 0;
  }

  set(lba: number): void {
    if (lba < this.blocks) this.bits[lba >>> 3] |= 1 << (lba & 7);
  }

  clear(lba: number): void {
    if (lba < this.blocks) this.bits[lba >>> 3] &= ~(1 << (lba & 7));
  }

  resize(blocks: number): void {
    assert(Number.isSafeInteger(blocks) && blocks >= 0);
    const n = new Uint8Array(Math.ceil(blocks / 8));
    n.set(this.bits.subarray(0, Math.min(n.length, this.bits.length)));
    this.bits = n;
    this.blocks = blocks;
  }

  get sizeBytes(): number {
    return this.bits.length;
  }
}
