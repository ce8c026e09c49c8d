// Recently read pool bytes, kept in RAM for later reads: fixed-size chunks of
// sealed, fully written segments (the only ones reads fetch from the pool), in
// one arena allocated at first use, evicted by CLOCK. A slot holds its chunk
// plus one largest fragment beyond it, so every fragment that starts in a chunk
// is whole in that chunk's slot and decodes straight from the arena.
//
// Bytes served from here are verified like any other (read-path.ts). Validity:
// a sealed segment's bytes change only after it is freed, and a freed segment
// is reused only after every read that resolved a location into it finished
// (ReadGuard). The engine forgets a segment's chunks when it frees the segment
// and again once those reads drained, just before the segment becomes
// allocatable (group-commit.ts): a read still filling a chunk of it then has
// finished, so no byte of the old segment outlives its reuse.
// Slots in use by a read are pinned (never evicted); a slot is indexed while
// its fill is in flight so that two reads never fetch one chunk twice.
import assert from 'node:assert';
import { fragmentBytes } from '../pool/fragment.js';
import { BLOCK_BYTES } from '../util/units.js';

export const READ_CACHE_CHUNK_BYTES = 16384;
/** Room after a chunk for the rest of a fragment that starts at its end. */
const SLOT_BYTES = READ_CACHE_CHUNK_BYTES + fragmentBytes(BLOCK_BYTES);

const EMPTY = 0;
const FILLING = 1;
const READY = 2;

export interface ReadCacheStats {
  /** Capacity of the arena in bytes (0 = disabled). */
  bytes: number;
  /** Fragments served from a cached chunk since open. */
  hits: number;
  /** Chunks fetched from the pool into the cache since open. */
  fills: number;
}

/** A fragment's place in the cache for one read: its slot (pinned), the
 * fragment's offset in the arena, and, when this read must fetch the chunk,
 * the segment range to read into the arena (then filled() or abandon()). */
export interface CachedFragment {
  slot: number;
  ready: boolean;
  arenaOffset: number;
  fill?: { segmentOffset: number; bytes: number; arenaOffset: number };
}

export class ReadCache {
  private arenaBuf: Buffer | undefined;
  private readonly keyOf: Float64Array;
  private readonly state: Uint8Array;
  private readonly pins: Uint32Array;
  private readonly ref: Uint8Array;
  private readonly index = new Map<number, number>();
  private readonly chunksPerSegment: number;
  private hand = 0;
  private hits = 0;
  private fills = 0;

  constructor(
    bytes: number,
    private readonly segmentBytes: number,
  ) {
    assert(Number.isSafeInteger(bytes) && bytes >= 0);
    assert(segmentBytes % READ_CACHE_CHUNK_BYTES === 0, 'segments hold whole chunks');
    const slots = Math.floor(bytes / SLOT_BYTES);
    this.keyOf = new Float64Array(slots).fill(-1);
    this.state = new Uint8Array(slots);
    this.pins = new Uint32Array(slots);
    this.ref = new Uint8Array(slots);
    this.chunksPerSegment = segmentBytes / READ_CACHE_CHUNK_BYTES;
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
   * The chunk holding the fragment at (segment, offset), its slot pinned: a
   * ready one (a hit), one this read is filling already (its slot in
   * `claimed`), or one claimed now for the caller to fill. Undefined when
   * another read is filling that chunk, every slot is pinned, or the chunk is
   * not cached and `mayFill` is false: read uncached. Offsets are fixed here:
   * a forget() meanwhile leaves the pinned slot's bytes.
   */
  take(segment: number, offset: number, claimed: ReadonlySet<number>, mayFill: boolean): CachedFragment | undefined {
    assert(offset >= 0 && offset < this.segmentBytes);
    const chunk = Math.floor(offset / READ_CACHE_CHUNK_BYTES);
    const key = segment * this.chunksPerSegment + chunk;
    const within = offset - chunk * READ_CACHE_CHUNK_BYTES;
    let slot = this.index.get(key);
    if (slot !== undefined) {
      const ready = this.state[slot] === READY;
      if (!ready && !claimed.has(slot)) return undefined;
      this.pin(slot);
      if (ready) this.hits += 1;
      return { slot, ready, arenaOffset: slot * SLOT_BYTES + within };
    }
    if (!mayFill) return undefined;
    slot = this.evict();
    if (slot === undefined) return undefined;
    this.keyOf[slot] = key;
    this.state[slot] = FILLING;
    this.index.set(key, slot);
    this.pin(slot);
    this.ref[slot] = 0; // a chunk survives the next sweep only when read again
    const segmentOffset = chunk * READ_CACHE_CHUNK_BYTES;
    const fill = { segmentOffset, bytes: Math.min(SLOT_BYTES, this.segmentBytes - segmentOffset), arenaOffset: slot * SLOT_BYTES };
    return { slot, ready: false, arenaOffset: slot * SLOT_BYTES + within, fill };
  }

  /** A claimed slot's bytes arrived: later reads may use it (unless forgotten meanwhile). */
  filled(slot: number): void {
    if (this.state[slot] !== FILLING) return;
    this.state[slot] = READY;
    this.fills += 1;
  }

  unpin(slot: number): void {
    assert(this.pins[slot] > 0, 'unpin without pin');
    this.pins[slot] -= 1;
  }

  /** Drops a slot's chunk (a failed fill, or bytes that did not verify). */
  abandon(slot: number): void {
    const key = this.keyOf[slot];
    if (key >= 0 && this.index.get(key) === slot) this.index.delete(key);
    this.keyOf[slot] = -1;
    this.state[slot] = EMPTY;
  }

  /** Drops every chunk of a segment (it was freed, or is about to be reused). */
  forget(segment: number): void {
    if (this.index.size === 0) return;
    const first = segment * this.chunksPerSegment;
    for (let c = 0; c < this.chunksPerSegment; c++) {
      const slot = this.index.get(first + c);
      if (slot !== undefined) this.abandon(slot);
    }
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
