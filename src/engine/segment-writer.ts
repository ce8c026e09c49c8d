// Appends fragments to the open segment, held in RAM. The segment reaches the
// pool when it is full (sealed: its tail is written in the background), or when
// a group commit writes the tail of the open one. Segments with bytes not yet
// in the pool stay readable from memory through lookup().
import assert from 'node:assert';
import { FRAGMENT_HEADER_BYTES, fragmentBytes, writeFragmentHeader } from '../pool/fragment.js';
import type { PoolStore } from '../pool/store.js';
import type { SegmentTable } from '../pool/segments.js';
import { SEGMENT_BUFFERS_POOLED } from '../util/limits.js';
import { UcError } from '../util/errors.js';

interface MemSegment {
  segment: number;
  buf: Buffer;
  fillBytes: number;
  writtenBytes: number;
}

export interface Placement {
  segment: number;
  offset: number;
  bytes: number;
}

export class SegmentWriter {
  private open: MemSegment | undefined;
  private readonly inMemory = new Map<number, MemSegment>();
  private readonly sealing = new Set<Promise<void>>();
  private readonly spare: Buffer[] = [];
  private failure: unknown;
  /** Bytes handed to pwrite since the last takeWritten(). */
  private writtenSinceSync = 0;

  constructor(
    private readonly pool: PoolStore,
    private readonly segs: SegmentTable,
    private readonly dataOffset: number,
  ) {}

  /** Copies a fragment (header + payload) into the open segment. */
  append(codecId: number, payload: Buffer, extentId: number): Placement {
    const bytes = fragmentBytes(payload.length);
    if (this.open === undefined || this.open.fillBytes + bytes > this.segs.segmentBytes) {
      if (this.open !== undefined) this.sealOpen();
      this.openNew();
    }
    const m = this.open!;
    const offset = m.fillBytes;
    writeFragmentHeader(m.buf, offset, codecId, payload.length, extentId);
    payload.copy(m.buf, offset + FRAGMENT_HEADER_BYTES);
    m.buf.fill(0, offset + FRAGMENT_HEADER_BYTES + payload.length, offset + bytes);
    m.fillBytes += bytes;
    this.segs.setFill(m.segment, m.fillBytes);
    return { segment: m.segment, offset, bytes };
  }

  /** The in-RAM copy of a segment that may not be fully in the pool yet. */
  lookup(segment: number): Buffer | undefined {
    return this.inMemory.get(segment)?.buf;
  }

  get openSegment(): number | undefined {
    return this.open?.segment;
  }

  /** True when appended bytes are not yet handed to the pool. */
  get hasUnwritten(): boolean {
    return this.sealing.size > 0 || (this.open !== undefined && this.open.fillBytes > this.open.writtenBytes);
  }

  /** Writes the open segment's tail and waits for every sealed segment's write. */
  async writeOut(): Promise<void> {
    const m = this.open;
    if (m !== undefined && m.fillBytes > m.writtenBytes) {
      const from = m.writtenBytes;
      m.writtenBytes = m.fillBytes;
      this.writtenSinceSync += m.fillBytes - from;
      await this.pool.pwrite(m.buf, from, m.fillBytes - from, this.position(m.segment) + from);
    }
    while (this.sealing.size > 0) await Promise.all([...this.sealing]);
    if (this.failure !== undefined) {
      const err = this.failure;
      this.failure = undefined;
      throw err;
    }
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
    this.segs.seal(m.segment);
    const from = m.writtenBytes;
    const length = m.fillBytes - from;
    this.writtenSinceSync += length;
    const done = (length > 0
      ? this.pool.pwrite(m.buf, from, length, this.position(m.segment) + from)
      : Promise.resolve()
    ).then(
      () => {
        m.writtenBytes = m.fillBytes;
        this.inMemory.delete(m.segment);
        if (this.spare.length < SEGMENT_BUFFERS_POOLED) this.spare.push(m.buf);
      },
      (err: unknown) => {
        // The bytes stay in RAM (reads keep working); the next commit reports the error.
        this.failure ??= err;
      },
    );
    const tracked: Promise<void> = done.finally(() => this.sealing.delete(tracked));
    this.sealing.add(tracked);
  }

  private openNew(): void {
    const segment = this.segs.allocate();
    if (segment === undefined) throw new UcError('UC_NO_SPACE', 'pool has no free segment');
    const buf = this.spare.pop() ?? Buffer.allocUnsafe(this.segs.segmentBytes);
    const m: MemSegment = { segment, buf, fillBytes: 0, writtenBytes: 0 };
    assert(!this.inMemory.has(segment));
    this.inMemory.set(segment, m);
    this.open = m;
  }

  private position(segment: number): number {
    return this.dataOffset + segment * this.segs.segmentBytes;
  }
}
