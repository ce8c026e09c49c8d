// Recently read fragments, kept in RAM for later reads: the exact bytes
// (header + payload) of fragments of sealed, fully written segments (the only
// ones reads fetch from the pool), one per slot of one arena allocated at
// first use, evicted by CLOCK. A miss costs what an uncached read costs (the
// fragment is copied from the read's own buffer into its slot); a hit saves
// the pread and its trip through the ring, and decodes straight from the arena.
// Fragment granularity, not chunks of a segment: reading a chunk around a
// random 4 KiB read cost more than the hits saved (measured).
//
// Bytes served from here are verified like any other (read-path.ts). Validity:
// a sealed segment's bytes change only after it is freed, and a freed segment
// is reused only after every read that resolved a location into it finished
// (ReadGuard). The engine forgets a segment's fragments when it frees the
// segment (a fill still in flight is then not kept) and again once those reads
// drained, just before the segment becomes allocatable (group-commit.ts).
// Slots in use by a read are pinned (never evicted); a slot is indexed while
// its fill is in flight so that two reads never fill one fragment twice.
import assert from 'node:assert';
import { FRAGMENT_BYTES_MAX } from '../pool/fragment.js';

/** One slot holds the largest fragment. */
const SLOT_BYTES = FRAGMENT_BYTES_MAX;

const EMPTY = 0;
const FILLING = 1;
const READY = 2;

export interface ReadCacheStats {
  /** Capacity of the arena in bytes (0 = disabled). */
  bytes: number;
  /** Fragments served from the cache since open. */
  hits: number;
  /** Fragments put into the cache since open. */
  fills: number;
}

/** A fragment's slot for one read (pinned): ready (a hit, decode from
 * arenaOffset) or claimed for this read to fill (then fill() or abandon()). */
export interface CachedFragment {
  slot: number;
  ready: boolean;
  arenaOffset: number;
}

export class ReadCache {
  private arenaBuf: Buffer | undefined;
  /** Per slot: the pool offset of its fragment, -1 when empty. */
  private readonly keys: Float64Array;
  private readonly state: Uint8Array;
  private readonly pins: Uint32Array;
  private readonly ref: Uint8Array;
  private readonly index = new Map<number, number>();
  private hand = 0;
  private hits = 0;
  private fills = 0;

  constructor(
    bytes: number,
    private readonly segmentBytes: number,
  ) {
    assert(Number.isSafeInteger(bytes) && bytes >= 0);
    const slots = Math.floor(bytes / SLOT_BYTES);
    this.keys = new Float64Array(slots).fill(-1);
    this.state = new Uint8Array(slots);
    this.pins = new Uint32Array(slots);
    this.ref = new Uint8Array(slots);
  }

  get enabled(): boolean {
    return this.state.length > 0;
  }

  get stats(): ReadCacheStats {
    return { bytes: this.state.length * SLOT_BYTES, hits: this.hits, fills: this.fills };
  }

  /** The arena every slot lives in (decode sources point into it). */
  get arena(): Buffer {
    this.arenaBuf ??= Buffer.allocUnsafe(this.state.length * SLOT_BYTES);
    return this.arenaBuf;
  }

  /**
   * The slot of the fragment at (segment, offset), pinned: a ready one (a
   * hit), or, with `mayFill`, one claimed now for the caller to fill.
   * Undefined when the fragment is not cached and is not to be, another read
   * is filling it, or every slot is pinned: the caller reads it uncached.
   */
  take(segment: number, offset: number, mayFill: boolean): CachedFragment | undefined {
    const key = this.keyOf(segment, offset);
    let slot = this.index.get(key);
    if (slot !== undefined) {
      if (this.state[slot] !== READY) return undefined;
      this.pin(slot);
      this.hits += 1;
      return { slot, ready: true, arenaOffset: slot * SLOT_BYTES };
    }
    if (!mayFill) return undefined;
    slot = this.evict();
    if (slot === undefined) return undefined;
    this.keys[slot] = key;
    this.state[slot] = FILLING;
    this.index.set(key, slot);
    this.pin(slot);
    this.ref[slot] = 0; // a fragment survives the next sweep only when read again
    return { slot, ready: false, arenaOffset: slot * SLOT_BYTES };
  }

  /** Copies a claimed slot's fragment in (`bytes`, at most one slot) and lets
   * later reads use it, unless its segment was forgotten meanwhile. */
  fill(slot: number, bytes: Buffer): void {
    assert(bytes.length <= SLOT_BYTES);
    if (this.state[slot] !== FILLING) return;
    bytes.copy(this.arena, slot * SLOT_BYTES);
    this.state[slot] = READY;
    this.fills += 1;
  }

  unpin(slot: number): void {
    assert(this.pins[slot] > 0, 'unpin without pin');
    this.pins[slot] -= 1;
  }

  /** Drops a slot's fragment (a failed read, or bytes that did not verify). */
  abandon(slot: number): void {
    const key = this.keys[slot];
    if (key >= 0 && this.index.get(key) === slot) this.index.delete(key);
    this.keys[slot] = -1;
    this.state[slot] = EMPTY;
  }

  /** Drops every fragment of a segment (it was freed, or is about to be reused):
   * one pass over the slots, once per freed segment. */
  forget(segment: number): void {
    if (this.index.size === 0) return;
    const from = this.keyOf(segment, 0);
    const to = from + this.segmentBytes;
    for (let slot = 0; slot < this.keys.length; slot++) {
      if (this.keys[slot] >= from && this.keys[slot] < to) this.abandon(slot);
    }
  }

  /** A fragment's key: its offset in the pool's data area (a safe integer). */
  private keyOf(segment: number, offset: number): number {
    assert(offset >= 0 && offset < this.segmentBytes);
    const key = segment * this.segmentBytes + offset;
    assert(Number.isSafeInteger(key));
    return key;
  }

  private pin(slot: number): void {
    this.pins[slot] += 1;
    this.ref[slot] = 1;
  }

  /** A free slot (CLOCK: unpinned, not hit since it was filled or the hand last passed). */
  private evict(): number | undefined {
    const n = this.state.length;
    for (let step = 0; step < 2 * n; step++) {
      const s = this.hand;
      this.hand = (this.hand + 1) % n;
      if (this.pins[s] > 0) continue;
      if (this.ref[s] === 1 && this.state[s] !== EMPTY) {
        this.ref[s] = 0;
        continue;
      }
      this.abandon(s);
      return s;
    }
    return undefined;
  }
}
