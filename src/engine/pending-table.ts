// One kind of MetaView's pending records (map, extent or dedup entries not yet
// committed) as fixed-width words in typed arrays: open addressing with linear
// probing, no JS object per entry, so the overlay costs the garbage collector
// nothing and the addon's apply step (native-apply.ts, native/write-apply.cc)
// reads and adds to it in place, with the same probing. An entry is never
// removed alone (a deleted record is an entry in state DELETED: the commit
// deletes its key); the whole table is dropped once its batch is committed.
// It grows 2x past half full, so a probe stays short.

export const EMPTY = 0;
/** The entry holds a value. */
export const LIVE = 1;
/** The record is deleted (its key goes out as a delete). */
export const DELETED = 2;

const INITIAL_SLOTS = 256;
/** The most slots a table starts with (sized after its predecessor: see MetaView.freeze). */
const START_SLOTS_MAX = 16384;

export class PendingTable {
  /** Scratch key: callers fill it before find/upsert. */
  readonly key: Uint32Array;
  keys: Uint32Array;
  values: Uint32Array;
  state: Uint8Array;
  capacity: number;
  /** Entries (LIVE or DELETED). */
  size = 0;
  private mask: number;
  /** Called with the new arrays after a growth (a native writer holds them: native-apply.ts). */
  onAllocate: ((t: PendingTable) => void) | undefined;

  /** `startSlots` (rounded to a power of two within [256, 16384]): the capacity to start with. */
  constructor(
    readonly keyWords: number,
    readonly valueWords: number,
    startSlots = INITIAL_SLOTS,
  ) {
    let slots = INITIAL_SLOTS;
    while (slots < Math.min(startSlots, START_SLOTS_MAX)) slots *= 2;
    this.key = new Uint32Array(keyWords);
    this.capacity = slots;
    this.mask = slots - 1;
    this.keys = new Uint32Array(slots * keyWords);
    this.values = new Uint32Array(slots * valueWords);
    this.state = new Uint8Array(slots);
  }

  /** The slot holding `key`, or -1. */
  find(): number {
    return this.probe(this.key, 0, false);
  }

  /** The slot for `key`: its own, or a new one (state EMPTY until the caller sets it). */
  upsert(): number {
    if ((this.size + 1) * 2 > this.capacity) this.grow();
    return this.probe(this.key, 0, true);
  }

  /** Grows now, if need be, so that `n` more entries fit without growing. */
  reserve(n: number): void {
    while ((this.size + n) * 2 > this.capacity) this.grow();
  }

  /** Copies every entry of `from` (same widths) over this table's: `from` is the newer. */
  mergeFrom(from: PendingTable): void {
    const kw = this.keyWords;
    const vw = this.valueWords;
    for (let s = 0; s < from.capacity; s++) {
      if (from.state[s] === EMPTY) continue;
      for (let i = 0; i < kw; i++) this.key[i] = from.keys[s * kw + i];
      const slot = this.upsert();
      this.state[slot] = from.state[s];
      this.values.set(from.values.subarray(s * vw, (s + 1) * vw), slot * vw);
    }
  }

  /** The slot of the key at src[off..], or (insert) the empty slot it takes: -1 when absent and not inserting. */
  private probe(src: Uint32Array, off: number, insert: boolean): number {
    const kw = this.keyWords;
    const keys = this.keys;
    let slot = this.hash(src, off) & this.mask;
    for (;;) {
      if (this.state[slot] === EMPTY) {
        if (!insert) return -1;
        for (let i = 0; i < kw; i++) keys[slot * kw + i] = src[off + i];
        this.size += 1;
        return slot;
      }
      let same = true;
      for (let i = 0; i < kw; i++) {
        if (keys[slot * kw + i] !== src[off + i]) {
          same = false;
          break;
        }
      }
      if (same) return slot;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Numbers (LBAs, extent ids) are dense: mixed so that neighbours scatter.
   * Fingerprints are random already. */
  private hash(src: Uint32Array, off: number): number {
    let h = Math.imul(src[off] ^ Math.imul(src[off + 1], 0x85ebca6b), 0x9e3779b1);
    h ^= h >>> 15;
    return Math.imul(h, 0x27d4eb2f) ^ (h >>> 13);
  }

  private grow(): void {
    const { keys, values, state, capacity } = this;
    const kw = this.keyWords;
    const vw = this.valueWords;
    this.capacity = capacity * 2;
    this.mask = this.capacity - 1;
    this.keys = new Uint32Array(this.capacity * kw);
    this.values = new Uint32Array(this.capacity * vw);
    this.state = new Uint8Array(this.capacity);
    this.size = 0;
    for (let s = 0; s < capacity; s++) {
      if (state[s] === EMPTY) continue;
      const slot = this.probe(keys, s * kw, true);
      this.state[slot] = state[s];
      this.values.set(values.subarray(s * vw, (s + 1) * vw), slot * vw);
    }
    this.onAllocate?.(this);
  }
}
