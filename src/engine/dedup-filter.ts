// A Bloom filter over every fingerprint the dedup index (H records) may hold, so
// that a new block's lookup is answered "certainly new" without a LevelDB get.
// Filled by a background scan of the H keys at open and by every setDedup with
// an extent id. Deleted fingerprints stay in it: a false positive only costs the
// store lookup the filter would otherwise have saved. Until the scan completes
// (or if it fails) the filter vouches for nothing and every lookup asks the store.
import { PREFIX_H } from '../meta/keys.js';
import { forEachKey, type MetaStore } from '../meta/store.js';
import { u32le } from '../util/bytes.js';

const HASHES = 4;
/** Bits per fingerprint a layer is sized for (with 4 hashes: ~0.25% false positives). */
const BITS_PER_ENTRY = 16;
/** Fingerprints the first layer is sized for, at least. */
const FIRST_LAYER_ENTRIES = 1 << 16;

/** One Bloom filter of a power-of-two number of bits. */
class Layer {
  readonly bits: Uint32Array;
  readonly mask: number;
  added = 0;

  constructor(
    words: number,
    /** Fingerprints it takes before the next, larger layer starts (when the budget allows). */
    readonly capacity: number,
  ) {
    this.bits = new Uint32Array(words);
    this.mask = words * 32 - 1;
  }

  add(h1: number, h2: number): void {
    for (let i = 0; i < HASHES; i++) {
      const bit = h1 & this.mask;
      this.bits[bit >>> 5] |= 1 << (bit & 31);
      h1 = (h1 + h2) >>> 0;
    }
    this.added += 1;
  }

  mayHold(h1: number, h2: number): boolean {
    for (let i = 0; i < HASHES; i++) {
      const bit = h1 & this.mask;
      if ((this.bits[bit >>> 5] & (1 << (bit & 31))) === 0) return false;
      h1 = (h1 + h2) >>> 0;
    }
    return true;
  }
}

/** Words of a layer for `entries` fingerprints (a power of two, at most 2^26 words). */
function wordsFor(entries: number): number {
  let words = 1;
  while (words * 32 < entries * BITS_PER_ENTRY && words < 2 ** 26) words *= 2;
  return words;
}

/**
 * Layers of Bloom filters (a scalable Bloom filter): the first is sized for the
 * extents the pool held at open; when one has taken its share, the next, twice
 * as large, takes new fingerprints, as long as the byte budget allows (then the
 * last one fills up, answering "maybe" more often). A fingerprint is certainly
 * new when no layer may hold it.
 */
export class DedupFilter {
  /** Every H key of the store has been added (the open scan finished). */
  complete = false;
  /** Lookups answered "certainly new". */
  certainlyNew = 0;
  private readonly layers: Layer[] = [];
  private used = 0;
  /** Told the layers' bit arrays whenever a layer is added (a native prober reads them in place). */
  private onLayers: ((layers: Uint32Array[]) => void) | undefined;

  constructor(
    private readonly budgetBytes: number,
    expectedEntries = 0,
  ) {
    this.addLayer(Math.max(expectedEntries, FIRST_LAYER_ENTRIES), true);
  }

  get bytes(): number {
    return this.used;
  }

  add(fingerprint: Buffer): void {
    let last = this.layers[this.layers.length - 1];
    if (last.added >= last.capacity && this.addLayer(last.capacity * 2, false)) last = this.layers[this.layers.length - 1];
    const [h1, h2] = hashes(fingerprint);
    last.add(h1, h2);
  }

  /** Hands the layers' bit arrays to `fn` now and after every new layer. */
  share(fn: (layers: Uint32Array[]) => void): void {
    this.onLayers = fn;
    fn(this.layers.map((l) => l.bits));
  }

  /** add() of a fingerprint held as 16 bytes at `fps[at..]`. */
  addAt(fps: Uint8Array, at: number): void {
    this.add(Buffer.from(fps.buffer, fps.byteOffset + at, 16));
  }

  /** True when the store certainly holds no H record for `fingerprint` (counted). */
  isCertainlyNew(fingerprint: Buffer): boolean {
    if (!this.complete) return false;
    const [h1, h2] = hashes(fingerprint);
    for (const l of this.layers) if (l.mayHold(h1, h2)) return false;
    this.certainlyNew += 1;
    return true;
  }

  /** Adds a layer for `entries` fingerprints if the budget allows (the first, shrunk to fit, always). */
  private addLayer(entries: number, first: boolean): boolean {
    let words = wordsFor(entries);
    const left = this.budgetBytes - this.used;
    if (first) while (words > 1 && words * 4 > left) words /= 2;
    else if (words * 4 > left) return false;
    this.layers.push(new Layer(words, (words * 32) / BITS_PER_ENTRY));
    this.used += words * 4;
    this.onLayers?.(this.layers.map((l) => l.bits));
    return true;
  }
}

/** Two independent 32-bit hashes of a fingerprint (mixed: tests inject weak fingerprints). */
function hashes(fp: Buffer): [number, number] {
  let a = 0x243f6a88;
  let b = 0x85a308d3;
  for (let o = 0; o + 4 <= fp.length; o += 4) {
    const w = u32le(fp, o);
    a = Math.imul(a ^ w, 0xcc9e2d51);
    a ^= a >>> 15;
    b = Math.imul(b ^ w, 0x1b873593);
    b ^= b >>> 13;
  }
  a = Math.imul(a ^ (a >>> 16), 0x85ebca6b) >>> 0;
  b = (Math.imul(b ^ (b >>> 16), 0xc2b2ae35) | 1) >>> 0;
  return [a, b];
}

/** Adds every H key of the store to `filter`, then marks it complete; on failure it stays incomplete. */
export function scanDedup(meta: MetaStore, filter: DedupFilter): Promise<void> {
  return (async () => {
    await forEachKey(meta, Buffer.from([PREFIX_H]), Buffer.from([PREFIX_H + 1]), (k) => filter.add(k.subarray(1)));
    filter.complete = true;
  })().catch(() => undefined);
}
