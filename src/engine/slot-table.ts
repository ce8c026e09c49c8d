// A set-associative table of fixed-width records in typed arrays (no JS object
// per entry), with CLOCK eviction inside each set. A key is `keyWords` u32
// words and selects one set of WAYS slots; a full set evicts the first slot its
// hand meets whose reference bit is clear (clearing the bits it passes). The
// table starts small and grows 4x (rehashing) instead of evicting until it
// reaches the size its byte budget allows, so a small working set costs little
// RAM and the rehashing about a third of a lookup per entry. Callers write the key into `key`, then find/insert/remove; a slot's
// value is `valueWords` words at values[slot * valueWords].

const WAYS = 8;
const EMPTY = 0;
const CLEAN = 1;
const REFERENCED = 2;
/** Slots a table starts with (when its budget allows). */
const INITIAL_SLOTS = 1024;
const GROWTH = 4;
const TWO32 = 0x1_0000_0000;

export class SlotTable {
  /** Scratch key: callers fill it before find/insert/remove. */
  readonly key: Uint32Array;
  values: Uint32Array;
  capacity = 0;
  /** The capacity the budget allows (the table never grows beyond it). */
  readonly maxCapacity: number;
  private keys = new Uint32Array(0);
  private state = new Uint8Array(0);
  private hands = new Uint8Array(0);
  private sets = 1;
  hits = 0;
  misses = 0;
  evictions = 0;
  /** Called with the new arrays after every (re)allocation: code outside JS (the
   * native read path, native-reads.ts; the native apply step, native-apply.ts) uses them in place. */
  private readonly onAllocate: Array<(keys: Uint32Array, values: Uint32Array, state: Uint8Array) => void> = [];

  constructor(
    readonly keyWords: number,
    readonly valueWords: number,
    budgetBytes: number,
  ) {
    const slotBytes = 4 * (keyWords + valueWords) + 1 + 1 / WAYS;
    this.maxCapacity = Math.max(1, Math.floor(budgetBytes / (WAYS * slotBytes))) * WAYS;
    this.key = new Uint32Array(keyWords);
    this.values = new Uint32Array(0);
    this.allocate(Math.min(this.maxCapacity, INITIAL_SLOTS));
  }

  /** Bytes the table's arrays hold now. */
  get bytes(): number {
    return this.keys.byteLength + this.values.byteLength + this.state.byteLength + this.hands.byteLength;
  }

  /** Slots in use. */
  count(): number {
    let n = 0;
    for (let i = 0; i < this.capacity; i++) if (this.state[i] !== EMPTY) n += 1;
    return n;
  }

  /** The slot holding `key`, or -1; a hit marks the slot referenced. Counts hits and misses. */
  find(): number {
    const slot = this.locate(this.key, 0);
    if (slot < 0) {
      this.misses += 1;
      return -1;
    }
    this.hits += 1;
    this.state[slot] = REFERENCED;
    return slot;
  }

  /** The slot for `key` (its own, an empty one, or an evicted one); the caller writes its value. */
  insert(): number {
    const own = this.locate(this.key, 0);
    if (own >= 0) return own;
    return this.place(this.key, 0, true, true);
  }

  /** As insert(), but -1 instead of evicting: a table at its budget keeps what it holds
   * (the cache warm-up after open fills only free room). */
  insertIfRoom(): number {
    const own = this.locate(this.key, 0);
    if (own >= 0) return own;
    return this.place(this.key, 0, true, false);
  }

  /** Forgets `key` if present. */
  remove(): void {
    const slot = this.locate(this.key, 0);
    if (slot >= 0) this.state[slot] = EMPTY;
  }

  clear(): void {
    this.state.fill(EMPTY);
  }

  /** A slot for a key known absent (src[off..]): an empty way, else grow, else evict
   * (-1 when it may not). */
  private place(src: Uint32Array, off: number, mayGrow: boolean, mayEvict: boolean): number {
    for (;;) {
      const set = this.setOf(src, off);
      const base = set * WAYS;
      let slot = -1;
      for (let w = 0; w < WAYS; w++) {
        if (this.state[base + w] === EMPTY) {
          slot = base + w;
          break;
        }
      }
      if (slot < 0 && mayGrow && this.capacity < this.maxCapacity) {
        this.grow();
        continue;
      }
      if (slot < 0 && !mayEvict) return -1;
      if (slot < 0) slot = this.evict(set);
      const kw = this.keyWords;
      for (let i = 0; i < kw; i++) this.keys[slot * kw + i] = src[off + i];
      this.state[slot] = CLEAN;
      return slot;
    }
  }

  private allocate(capacity: number): void {
    this.capacity = capacity | 0;
    this.sets = (capacity / WAYS) | 0;
    this.keys = new Uint32Array(capacity * this.keyWords);
    this.values = new Uint32Array(capacity * this.valueWords);
    this.state = new Uint8Array(capacity);
    this.hands = new Uint8Array(capacity / WAYS);
    for (const fn of this.onAllocate) fn(this.keys, this.values, this.state);
  }

  /** Hands the current arrays to `fn` now and after every reallocation. */
  share(fn: (keys: Uint32Array, values: Uint32Array, state: Uint8Array) => void): void {
    this.onAllocate.push(fn);
    fn(this.keys, this.values, this.state);
  }

  /** Grows the table (within its budget) and re-places every entry (a full new set evicts, rarely). */
  private grow(): void {
    const { keys, values, state, capacity } = this;
    this.allocate(Math.min(this.maxCapacity, capacity * GROWTH));
    const kw = this.keyWords;
    const vw = this.valueWords;
    for (let s = 0; s < capacity; s++) {
      if (state[s] === EMPTY) continue;
      const slot = this.place(keys, s * kw, false, true);
      this.state[slot] = state[s];
      for (let i = 0; i < vw; i++) this.values[slot * vw + i] = values[s * vw + i];
    }
  }

  private evict(set: number): number {
    const base = set * WAYS;
    let hand = this.hands[set];
    for (;;) {
      const slot = base + hand;
      hand = (hand + 1) % WAYS;
      if (this.state[slot] === REFERENCED) {
        this.state[slot] = CLEAN;
        continue;
      }
      this.hands[set] = hand;
      this.evictions += 1;
      return slot;
    }
  }

  /** The slot holding the key at src[off..], or -1. Hot: locals, and the two key
   * widths the cache uses compared without an inner loop. */
  private locate(src: Uint32Array, off: number): number {
    const base = this.setOf(src, off) * WAYS;
    const state = this.state;
    const keys = this.keys;
    const kw = this.keyWords;
    const k0 = src[off];
    const k1 = kw > 1 ? src[off + 1] : 0;
    for (let slot = base; slot < base + WAYS; slot++) {
      if (state[slot] === EMPTY) continue;
      const at = slot * kw;
      if (keys[at] !== k0) continue;
      if (kw === 1) return slot;
      if (keys[at + 1] !== k1) continue;
      let i = 2;
      while (i < kw && keys[at + i] === src[off + i]) i++;
      if (i === kw) return slot;
    }
    return -1;
  }

  /** The key's set: a mixed hash, range-reduced by a multiply (a `%` by a set count
   * that is not a small integer costs a floating-point division per lookup). */
  private setOf(src: Uint32Array, off: number): number {
    let h = 0x9e3779b9;
    const kw = this.keyWords;
    for (let i = 0; i < kw; i++) {
      h = Math.imul(h ^ src[off + i], 0x85ebca6b);
      h ^= h >>> 13;
    }
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return Math.floor((h >>> 0) * this.sets / TWO32);
  }
}
