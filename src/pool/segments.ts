// In-memory segment table and allocator. Loaded from the G records at open,
// updated as fragments are appended and released; dirty rows are written back
// with every group commit. ~9 bytes of RAM per 4 MiB segment.
//
// States: FREE (allocatable), OPEN (being appended to), SEALED (full, or left
// open by a previous run), FREEING (released in memory; persisted as FREE, but
// not allocatable until the commit that freed it is durable: rule 3).
import assert from 'node:assert';
import { SEG_FREE, SEG_OPEN, SEG_SEALED, type SegmentRecord } from './segment-record.js';
import { UcError } from '../util/errors.js';

export const SEG_FREEING = 3;

/** What the engine's operations may read of the table (the core alone changes it). */
export interface SegmentQuery {
  readonly count: number;
  readonly segmentBytes: number;
  readonly freeCount: number;
  fillOf(segment: number): number;
  liveOf(segment: number): number;
  candidates(liveFraction: number, limit: number): number[];
  usedCount(): number;
  totalLiveBytes(): number;
}

export class SegmentTable implements SegmentQuery {
  liveBytes: Uint32Array;
  fillBytes: Uint32Array;
  state: Uint8Array;
  readonly dirty = new Set<number>();
  private free: number[] = [];

  constructor(
    public count: number,
    readonly segmentBytes: number,
  ) {
    this.liveBytes = new Uint32Array(count);
    this.fillBytes = new Uint32Array(count);
    this.state = new Uint8Array(count);
  }

  /** Applies a persisted G record (called for each record at open). */
  load(segment: number, r: SegmentRecord): void {
    // Records come from disk: out-of-range values are damaged metadata, not a bug here.
    if (!Number.isSafeInteger(segment) || segment < 0 || segment >= this.count) {
      throw new UcError('UC_META_CORRUPT', `segment record ${segment} lies beyond the pool's ${this.count} segments`);
    }
    if (r.state > SEG_SEALED || r.fillBytes > this.segmentBytes || r.liveBytes > r.fillBytes) {
      throw new UcError(
        'UC_META_CORRUPT',
        `segment record ${segment} is out of range (state ${r.state}, fill ${r.fillBytes}, live ${r.liveBytes})`,
      );
    }
    this.liveBytes[segment] = r.liveBytes;
    this.fillBytes[segment] = r.fillBytes;
    this.state[segment] = r.state;
  }

  /** Builds the free list once every record is loaded (lowest segments first). */
  finishLoad(): void {
    this.free = [];
    for (let s = this.count - 1; s >= 0; s--) if (this.state[s] === SEG_FREE) this.free.push(s);
  }

  fillOf(segment: number): number {
    return this.fillBytes[segment];
  }

  liveOf(segment: number): number {
    return this.liveBytes[segment];
  }

  get freeCount(): number {
    return this.free.length;
  }

  allocate(): number | undefined {
    const s = this.free.pop();
    if (s === undefined) return undefined;
    assert.equal(this.state[s], SEG_FREE);
    this.state[s] = SEG_OPEN;
    this.liveBytes[s] = 0;
    this.fillBytes[s] = 0;
    this.dirty.add(s);
    return s;
  }

  setFill(segment: number, fillBytes: number): void {
    assert(fillBytes <= this.segmentBytes);
    this.fillBytes[segment] = fillBytes;
    this.dirty.add(segment);
  }

  seal(segment: number): void {
    assert.equal(this.state[segment], SEG_OPEN);
    this.state[segment] = SEG_SEALED;
    this.dirty.add(segment);
  }

  addLive(segment: number, bytes: number): void {
    this.liveBytes[segment] += bytes;
    assert(this.liveBytes[segment] <= this.fillBytes[segment], 'live bytes exceed fill');
    this.dirty.add(segment);
  }

  subLive(segment: number, bytes: number): void {
    assert(this.liveBytes[segment] >= bytes, `segment ${segment} live bytes underflow`);
    this.liveBytes[segment] -= bytes;
    this.dirty.add(segment);
  }

  /** Marks a sealed, empty segment freed (not yet reusable). */
  release(segment: number): void {
    assert.equal(this.state[segment], SEG_SEALED);
    assert.equal(this.liveBytes[segment], 0);
    this.state[segment] = SEG_FREEING;
    this.fillBytes[segment] = 0;
    this.dirty.add(segment);
  }

  /** The freeing commit is durable and the space is punched: allocatable again. */
  makeReusable(segment: number): void {
    assert.equal(this.state[segment], SEG_FREEING);
    this.state[segment] = SEG_FREE;
    this.free.push(segment);
  }

  record(segment: number): SegmentRecord {
    const st = this.state[segment];
    return {
      liveBytes: this.liveBytes[segment],
      fillBytes: this.fillBytes[segment],
      state: st === SEG_FREEING ? SEG_FREE : st,
    };
  }

  /** Sealed segments with live bytes under `liveFraction` of a segment, emptiest first. */
  candidates(liveFraction: number, limit: number): number[] {
    const cap = liveFraction * this.segmentBytes;
    const out: number[] = [];
    for (let s = 0; s < this.count; s++) {
      if (this.state[s] === SEG_SEALED && this.liveBytes[s] < cap) out.push(s);
    }
    out.sort((a, b) => this.liveBytes[a] - this.liveBytes[b]);
    return out.slice(0, limit);
  }

  /** Adds segments (a grown file pool); the new ones are free. */
  grow(count: number): void {
    if (count <= this.count) return;
    const grow32 = (a: Uint32Array): Uint32Array => {
      const n = new Uint32Array(count);
      n.set(a);
      return n;
    };
    this.liveBytes = grow32(this.liveBytes);
    this.fillBytes = grow32(this.fillBytes);
    const st = new Uint8Array(count);
    st.set(this.state);
    this.state = st;
    for (let s = this.count; s < count; s++) this.free.unshift(s); // highest at the bottom
    this.count = count;
  }

  usedCount(): number {
    let n = 0;
    for (let s = 0; s < this.count; s++) if (this.state[s] === SEG_OPEN || this.state[s] === SEG_SEALED) n++;
    return n;
  }

  totalLiveBytes(): number {
    let n = 0;
    for (let s = 0; s < this.count; s++) n += this.liveBytes[s];
    return n;
  }
}

export { SEG_FREE, SEG_OPEN, SEG_SEALED };
export { decodeSegment, encodeSegment, type SegmentRecord } from './segment-record.js';
