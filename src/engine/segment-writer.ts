// Appends fragments to the open segment, held in RAM. The segment reaches the
// pool when it is full (sealed: its tail is written in the background), or when
// a group commit writes the tail of the open one. Segments with bytes not yet
// in the pool stay readable from memory through lookup().
//
// Ordering (a PoolStore may complete writes in any order): the writes of one
// segment run one after another, and writtenBytes advances only when a pwrite
// has completed. A sealed segment leaves RAM, and its buffer is recycled, only
// after its last write completed, so no read goes to the pool for bytes not yet
// there and no write in flight reads a buffer that a new segment now fills. A
// failed write leaves the bytes in RAM; the next writeOut() writes them again.
import assert from 'node:assert';
import { FRAGMENT_BYTES_MAX, FRAGMENT_HEADER_BYTES, fragmentBytes, writeFragmentHeader } from '../pool/fragment.js';
import type { PoolStore } from '../pool/store.js';
import type { SegmentTable } from '../pool/segments.js';
import { SEGMENT_BUFFERS_POOLED } from '../util/limits.js';
import { UcError } from '../util/errors.js';
import { BLOCK_BYTES } from '../util/units.js';

interface MemSegment {
  segment: number;
  buf: Buffer;
  fillBytes: number;
  /** Bytes [0, writtenBytes) are in the pool: their pwrite completed. */
  writtenBytes: number;
  /** No more appends; leaves RAM once every byte is written. */
  sealed: boolean;
  /** The segment's last queued write (never rejects): the next one starts after it. */
  chain: Promise<void>;
}

export interface Placement {
  segment: number;
  offset: number;
  /** The fragment's bytes in the segment (header, payload, padding). */
  bytes: number;
  codecId: number;
  storedBytes: number;
}

/** Writes a block's stored payload straight into a segment (BatchEncoder). */
export interface FragmentEncoder {
  /** Writes block i's payload to dst[at..] (room for BLOCK_BYTES) and returns its length. */
  encodeInto(i: number, dst: Buffer, at: number): number;
  /** The codec of a payload of that length. */
  storedCodec(bytes: number): number;
}

export class SegmentWriter {
  private open: MemSegment | undefined;
  /** The open segment and sealed ones whose bytes are not all written yet. */
  private readonly inMemory = new Map<number, MemSegment>();
  private readonly spare: Buffer[] = [];
  /** A payload encoded where the open segment may not take the largest fragment. */
  private readonly scratch = Buffer.allocUnsafe(BLOCK_BYTES);
  /** Bytes whose pwrite completed since the last takeWritten(). */
  private writtenSinceSync = 0;
  /** Told when a segment enters RAM (with its buffer) or leaves it (undefined): a
   * native reader copies its fragments from the buffer meanwhile, not from the pool. */
  private onResident: ((segment: number, buf: Buffer | undefined) => void) | undefined;

  constructor(
    private readonly pool: PoolStore,
    private readonly segs: SegmentTable,
    private readonly dataOffset: number,
  ) {}

  /** Copies a fragment (header + payload) into the open segment. */
  append(codecId: number, payload: Buffer, extentId: number): Placement {
    const m = this.segmentFor(fragmentBytes(payload.length));
    payload.copy(m.buf, m.fillBytes + FRAGMENT_HEADER_BYTES);
    return this.finish(m, codecId, payload.length, extentId);
  }

  /** Appends block i of `enc` as a fragment, its payload encoded in place in the
   * open segment. Where the open segment could not take the largest fragment but
   * may take this one, it goes through a scratch buffer and append(), so that
   * fragments are placed exactly as append() alone would place them. */
  appendEncoded(enc: FragmentEncoder, i: number, extentId: number): Placement {
    const m = this.open;
    if (m !== undefined && m.fillBytes + FRAGMENT_BYTES_MAX > this.segs.segmentBytes) {
      const n = enc.encodeInto(i, this.scratch, 0);
      return this.append(enc.storedCodec(n), this.scratch.subarray(0, n), extentId);
    }
    const into = this.segmentFor(FRAGMENT_BYTES_MAX);
    const n = enc.encodeInto(i, into.buf, into.fillBytes + FRAGMENT_HEADER_BYTES);
    return this.finish(into, enc.storedCodec(n), n, extentId);
  }

  /** The open segment with room for `bytes` more (sealing it and opening another when full). */
  private segmentFor(bytes: number): MemSegment {
    if (this.open === undefined || this.open.fillBytes + bytes > this.segs.segmentBytes) {
      if (this.open !== undefined) this.sealOpen();
      this.openNew();
    }
    return this.open!;
  }

  /** Completes the fragment whose payload is at m's tail: header, padding, fill. */
  private finish(m: MemSegment, codecId: number, storedBytes: number, extentId: number): Placement {
    const offset = m.fillBytes;
    const bytes = fragmentBytes(storedBytes);
    writeFragmentHeader(m.buf, offset, codecId, storedBytes, extentId);
    m.buf.fill(0, offset + FRAGMENT_HEADER_BYTES + storedBytes, offset + bytes);
    m.fillBytes += bytes;
    this.segs.setFill(m.segment, m.fillBytes);
    return { segment: m.segment, offset, bytes, codecId, storedBytes };
  }

  /** The open segment for the native apply step (native-apply.ts), which appends
   * fragments to its buffer in place; undefined when none is open. */
  openForNative(): { readonly segment: number; readonly buf: Buffer; readonly fillBytes: number } | undefined {
    return this.open;
  }

  /** The native apply step appended fragments: the open segment is now filled up to `fillBytes`. */
  appendedNatively(fillBytes: number): void {
    const m = this.open;
    assert(m !== undefined && fillBytes >= m.fillBytes && fillBytes <= this.segs.segmentBytes);
    m.fillBytes = fillBytes;
    this.segs.setFill(m.segment, fillBytes);
  }

  /** The in-RAM copy of a segment that may not be fully in the pool yet. */
  lookup(segment: number): Buffer | undefined {
    return this.inMemory.get(segment)?.buf;
  }

  /** Reports every segment in RAM now, then each one that enters or leaves. */
  shareResident(fn: (segment: number, buf: Buffer | undefined) => void): void {
    this.onResident = fn;
    for (const [segment, m] of this.inMemory) fn(segment, m.buf);
  }

  get openSegment(): number | undefined {
    return this.open?.segment;
  }

  /** True when appended bytes are not yet in the pool (written or being written). */
  get hasUnwritten(): boolean {
    for (const m of this.inMemory.values()) if (m.sealed || m.fillBytes > m.writtenBytes) return true;
    return false;
  }

  /** Writes every segment's unwritten bytes and resolves once they, and every
   * earlier write, completed. Rejects with the first failure (bytes stay in RAM). */
  async writeOut(): Promise<void> {
    const done = await Promise.allSettled([...this.inMemory.values()].map((m) => this.queueWrite(m)));
    for (const d of done) if (d.status === 'rejected') throw d.reason;
  }

  /** Bytes written since the last call: tells the engine whether an fdatasync is due. */
  takeWritten(): number {
    const n = this.writtenSinceSync;
    this.writtenSinceSync = 0;
    return n;
  }

  /** Seals the open segment (e.g. before a reopen); its tail is written in the background. */
  sealOpen(): void {
    const m = this.open;
    if (m === undefined) return;
    this.open = undefined;
    m.sealed = true;
    this.segs.seal(m.segment);
    // A failure keeps the bytes in RAM (reads keep working); the next writeOut() retries.
    this.queueWrite(m).catch(() => undefined);
  }

  /** Queues a write of m's unwritten bytes behind m's earlier writes. */
  private queueWrite(m: MemSegment): Promise<void> {
    const run = m.chain.then(() => this.writeTail(m));
    m.chain = run.catch(() => undefined);
    return run;
  }

  private async writeTail(m: MemSegment): Promise<void> {
    const from = m.writtenBytes;
    const to = m.fillBytes;
    if (to > from) {
      await this.pool.pwrite(m.buf, from, to - from, this.position(m.segment) + from);
      assert(m.writtenBytes === from, 'writes of one segment overlapped');
      m.writtenBytes = to;
      this.writtenSinceSync += to - from;
    }
    if (m.sealed && m.writtenBytes === m.fillBytes && this.inMemory.get(m.segment) === m) {
      this.inMemory.delete(m.segment);
      this.onResident?.(m.segment, undefined);
      if (this.spare.length < SEGMENT_BUFFERS_POOLED) this.spare.push(m.buf);
    }
  }

  private openNew(): void {
    const segment = this.segs.allocate();
    if (segment === undefined) throw new UcError('UC_NO_SPACE', 'pool has no free segment');
    const buf = this.spare.pop() ?? Buffer.allocUnsafe(this.segs.segmentBytes);
    const m: MemSegment = { segment, buf, fillBytes: 0, writtenBytes: 0, sealed: false, chain: Promise.resolve() };
    assert(!this.inMemory.has(segment));
    this.inMemory.set(segment, m);
    this.onResident?.(segment, buf);
    this.open = m;
  }

  private position(segment: number): number {
    return this.dataOffset + segment * this.segs.segmentBytes;
  }
}
