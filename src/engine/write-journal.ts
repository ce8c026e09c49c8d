// The write journal: what a killed server must not lose (docs/packed.md,
// "What a daemon crash loses"). A packed write completes once its blocks are
// in the open segment in RAM; the group commit makes them durable later. So
// that a process crash (the kernel and its page cache live on) loses nothing
// that completed, every mutation is also appended here, in page cache, before
// it completes: a write with its raw blocks, a discard/write-zeroes as a range.
// Nothing here is fdatasync'ed on the hot path: after a power cut the journal
// may hold any subset of its records, which is what a volatile write cache may
// lose anyway (FLUSH semantics are unchanged, DESIGN rule 1).
//
// Sequence numbers order the records. Each metadata batch stores the sequence
// of the last mutation its state includes (the J record), atomically with that
// state; at open, records above it are replayed in order through the normal
// write path and committed. A record replays only after its checksums match.
//
// Two files alternate: a commit's freeze switches appends to the other file
// (when that one is empty), and a file whose records a written batch covers
// is emptied (truncated, so its dirty pages never reach the disk).
import assert from 'node:assert';
import { hashInto } from '../compress/index.js';
import { xxh128 } from '../dedup/index.js';
import type { PoolStore } from '../pool/store.js';
import { JOURNAL_FILE_BYTES } from '../util/limits.js';
import { UcError } from '../util/errors.js';
import { isNoSpace } from '../util/errno.js';
import { BLOCK_BYTES } from '../util/units.js';

/** A journal file: a backing file's reads and writes (reads past the end give
 * zeros), plus `truncate`, which discards everything from `length` on
 * (ftruncate(2) on a real file: its dirty pages never reach the disk, their
 * space is released, and the file stays small). */
export type JournalFile = Pick<PoolStore, 'pread' | 'pwrite' | 'fdatasync' | 'close'> & {
  truncate(length: number): Promise<void>;
  /** The file's descriptor, when it is a real file (the addon may append to it: native-writes.ts). */
  readonly fd?: number;
};

/** What the addon needs to append one-block records itself (native-writes.ts). */
export interface NativeJournalState {
  /** It may: nothing is in flight, the file is intact, no replay runs, the file has a descriptor. */
  readonly ready: boolean;
  readonly active: number;
  readonly seq: number;
  readonly used: number;
  readonly capacity: number;
}

export const JOURNAL_HEADER_BYTES = 64;
const MAGIC = 0x4a43_5531; // "1UCJ" little-endian
const KIND_WRITE = 1;
const KIND_UNMAP = 2;
const HASH_BYTES = 16;
/** Header layout: magic u32, kind u8, pad, seq u64, lba u64, blocks u32,
 * payload bytes u32, payload hash 16, header hash 16 (over bytes 0..48). */
const HEADER_HASHED_BYTES = 48;
/** Record buffers kept for reuse (about the writes in flight at once), and
 * their bytes at most (a coalesced batch's records take up to ~1 MiB). */
const SPARE_RECORDS = 64;
const SPARE_BYTES_MAX = 2 * 1024 * 1024;
/** A one-block write's record: header and block. */
const ONE_BLOCK_RECORD_BYTES = JOURNAL_HEADER_BYTES + BLOCK_BYTES;
/** The one block of a one-block append(). */
const FIRST_BLOCK: readonly number[] = [0];

export type JournalOp =
  | { kind: 'write'; seq: number; lba: number; blocks: number; data: Buffer }
  | { kind: 'unmap'; seq: number; lba: number; blocks: number };

interface FileState {
  readonly file: JournalFile;
  /** Bytes of records appended since the file was last emptied. */
  used: number;
  /** Highest sequence recorded in the file (0 when empty). */
  maxSeq: number;
  /** Settles when every append to the file so far has completed: true when all were written. */
  tail: Promise<boolean>;
  /** An append failed: records after it would be unreadable, so the file takes
   * none until it is emptied (after a commit covers it). */
  broken: boolean;
  /** Offset of the first record that failed (what the file is cut back to). */
  failedAt: number;
}

export class WriteJournal {
  private readonly f: [FileState, FileState];
  private active = 0;
  /** Sequence of the last mutation applied (the J a freeze records). */
  private seq: number;
  /** Highest J a successfully written batch recorded. */
  private coveredSeq: number;
  /** Emptying of covered files, awaited before a file takes appends again. */
  private resets: Promise<void> = Promise.resolve();
  /** While replaying, mutations are not recorded again. */
  private replaying = false;
  /** Highest sequence the load saw (sequences restart above it after replay). */
  private maxLoaded = 0;
  /** Record buffers whose write settled, for reuse (at most SPARE_BYTES_MAX in all). */
  private readonly spare: Buffer[] = [];
  private spareBytes = 0;
  /** Appends whose writes have not settled, and who is told when none is left. */
  private inflight = 0;
  private onIdle: (() => void) | undefined;

  private constructor(
    files: [JournalFile, JournalFile],
    lastSeq: number,
    /** Bytes each file may hold before it must be emptied. */
    private readonly capacityBytes: number,
  ) {
    this.f = [files[0], files[1]].map((file) => ({ file, used: 0, maxSeq: 0, tail: Promise.resolve(true), broken: false, failedAt: 0 })) as [
      FileState,
      FileState,
    ];
    this.seq = lastSeq;
    this.coveredSeq = lastSeq;
  }

  /**
   * Reads both files and returns the journal with the records above
   * `committedSeq` (the J of the metadata state opened), in order. The files
   * are emptied by `finishReplay`, after those records are committed.
   */
  static async load(
    files: [JournalFile, JournalFile], committedSeq: number, capacityBytes = JOURNAL_FILE_BYTES,
  ): Promise<{ journal: WriteJournal; ops: JournalOp[] }> {
    const ops: JournalOp[] = [];
    let maxSeen = committedSeq;
    for (const file of files) {
      for (const op of await readRecords(file, capacityBytes)) {
        maxSeen = Math.max(maxSeen, op.seq);
        if (op.seq > committedSeq) ops.push(op);
      }
    }
    ops.sort((a, b) => a.seq - b.seq);
    const journal = new WriteJournal(files, committedSeq, capacityBytes);
    // Records past a torn one were never scanned: nothing may be appended until
    // both files are emptied (finishReplay), and sequences restart above all seen.
    journal.replaying = true;
    journal.maxLoaded = maxSeen;
    return { journal, ops };
  }

  /** The J the next freeze records. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Replay: the op with this sequence is being applied (not recorded again). */
  replayed(seq: number): void {
    assert(this.replaying && seq > this.seq);
    this.seq = seq;
  }

  /** After the replayed ops were committed durably: empties both files, durably
   * (records past a torn one must never resurface), and starts appending. */
  async finishReplay(): Promise<void> {
    assert(this.replaying);
    for (const s of this.f) {
      await s.file.truncate(0);
      await s.file.fdatasync();
      s.used = 0;
      s.maxSeq = 0;
    }
    this.seq = Math.max(this.seq, this.maxLoaded);
    this.coveredSeq = this.seq;
    this.replaying = false;
  }

  /** True when a record of `payloadBytes` fits in the active file now. */
  fits(payloadBytes: number): boolean {
    const s = this.f[this.active];
    return !s.broken && s.used + JOURNAL_HEADER_BYTES + payloadBytes <= this.capacityBytes;
  }

  /** Largest payload a record may carry. */
  get payloadBytesMax(): number {
    return this.capacityBytes - JOURNAL_HEADER_BYTES;
  }

  /**
   * Records a mutation that was just applied (synchronously, before any other
   * mutation or freeze can run). The returned promise settles when this record
   * and every earlier one of its file are in the file: the mutation may complete then.
   * It rejects when this record or an earlier one of the file was not written
   * (the caller then makes the mutation durable by a commit instead).
   * `dataHash`, when the caller has it, is XXH128 of `data` (saves hashing it again).
   */
  append(kind: 'write' | 'unmap', lba: number, blocks: number, data?: Buffer, dataHash?: Buffer): Promise<void> {
    if (this.replaying) return Promise.resolve();
    const payload = kind === 'write' ? data : undefined;
    assert(payload === undefined || payload.length === blocks * BLOCK_BYTES);
    assert(dataHash === undefined || (payload !== undefined && dataHash.length === HASH_BYTES));
    // A one-block record goes out in one write, from a recycled buffer.
    if (payload?.length === BLOCK_BYTES) return this.appendBlocks([lba], FIRST_BLOCK, payload, () => dataHash);
    // Others write the header and the caller's payload apart (no copy of a large payload).
    const payloadBytes = payload?.length ?? 0;
    assert(this.fits(payloadBytes), 'write journal record does not fit (caller checks fits first)');
    const s = this.f[this.active];
    const at = s.used;
    s.used += JOURNAL_HEADER_BYTES + payloadBytes;
    this.seq += 1;
    s.maxSeq = this.seq;
    const header = Buffer.allocUnsafe(JOURNAL_HEADER_BYTES);
    encodeHeader(header, kind === 'write' ? KIND_WRITE : KIND_UNMAP, this.seq, lba, blocks, payload, dataHash);
    const writes = [s.file.pwrite(header, 0, JOURNAL_HEADER_BYTES, at)];
    if (payload !== undefined) writes.push(s.file.pwrite(payload, 0, payloadBytes, at + JOURNAL_HEADER_BYTES));
    return this.settle(s, at, writes, undefined);
  }

  /**
   * Records one-block writes that were just applied, in order: block i of
   * `data` to `lbas[i]` for each i of `indices`, a record each (exactly what
   * as many append() calls would write), in one write to the file: one
   * system call and one promise for a coalesced batch. `hashOf(i)` is XXH128
   * of block i when the caller has it. The promise settles as append()'s does,
   * for all of them together.
   */
  appendBlocks(lbas: readonly number[], indices: readonly number[], data: Buffer, hashOf: (i: number) => Buffer | undefined): Promise<void> {
    if (this.replaying || indices.length === 0) return Promise.resolve();
    const bytes = indices.length * ONE_BLOCK_RECORD_BYTES;
    assert(this.fits(bytes - JOURNAL_HEADER_BYTES), 'write journal records do not fit (caller checks fits first)');
    const s = this.f[this.active];
    const at = s.used;
    s.used += bytes;
    const out = this.spareRecords(bytes);
    let o = 0;
    for (const i of indices) {
      this.seq += 1;
      const block = data.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES);
      encodeHeader(out.subarray(o, o + JOURNAL_HEADER_BYTES), KIND_WRITE, this.seq, lbas[i], 1, block, hashOf(i));
      block.copy(out, o + JOURNAL_HEADER_BYTES);
      o += ONE_BLOCK_RECORD_BYTES;
    }
    s.maxSeq = this.seq;
    return this.settle(s, at, [s.file.pwrite(out, 0, bytes, at)], out);
  }

  /** A buffer of at least `bytes` for records: a recycled one when one is large enough. */
  private spareRecords(bytes: number): Buffer {
    for (let k = this.spare.length - 1; k >= 0; k--) {
      const b = this.spare[k];
      if (b.length < bytes) continue;
      this.spare[k] = this.spare[this.spare.length - 1];
      this.spare.pop();
      this.spareBytes -= b.length;
      return b;
    }
    return Buffer.allocUnsafe(Math.max(bytes, ONE_BLOCK_RECORD_BYTES));
  }

  /** The files' descriptors (-1: not a real file). */
  fds(): [number, number] {
    return [this.f[0].file.fd ?? -1, this.f[1].file.fd ?? -1];
  }

  /** `fn` runs whenever the last append in flight settles. */
  whenIdle(fn: () => void): void {
    this.onIdle = fn;
  }

  nativeState(): NativeJournalState {
    const s = this.f[this.active];
    const ready = !this.replaying && !s.broken && this.inflight === 0 && (s.file.fd ?? -1) >= 0;
    return { ready, active: this.active, seq: this.seq, used: s.used, capacity: this.capacityBytes };
  }

  /** The addon appended records to the active file (written, synchronously) up to `seq`, ending at `used`. */
  nativeAppended(seq: number, used: number): void {
    if (seq === this.seq) return;
    assert(seq > this.seq && !this.replaying, 'native journal records out of sequence');
    const s = this.f[this.active];
    s.used = used;
    s.maxSeq = seq;
    this.seq = seq;
  }

  /** The addon could not write a record at `at` of the active file: it takes none until emptied, cut back there. */
  nativeFailed(at: number): void {
    const s = this.f[this.active];
    s.failedAt = s.broken ? Math.min(s.failedAt, at) : at;
    s.broken = true;
    s.tail = s.tail.then(async () => {
      await s.file.truncate(s.failedAt).catch(() => undefined);
      return false;
    });
  }

  /** The promise of the records from `at` to the file's end, written by `writes`:
   * it rejects when they or an earlier record of the file were not written.
   * `buf` is recycled once the writes settle. */
  private settle(s: FileState, at: number, writes: Array<Promise<void>>, buf: Buffer | undefined): Promise<void> {
    const done = Promise.all([s.tail, ...writes]).then(([earlierWritten]) => {
      // A scan stops at the first record missing: this one could not be found either.
      if (!earlierWritten) throw new UcError('UC_IO', 'an earlier record of this write-journal file was not written');
    });
    this.inflight += 1;
    const settled = (): void => {
      this.inflight -= 1;
      if (this.inflight === 0) this.onIdle?.();
    };
    done.then(settled, settled);
    // `done` settles once its write has (s.tail never rejects): the buffer may serve again.
    s.tail = done.then(
      () => {
        this.recycle(buf);
        return true;
      },
      async () => {
        this.recycle(buf);
        // Cut the file back to the first failed record: on a full filesystem, the
        // partial writes' space goes back to the commit that stands in for them.
        s.failedAt = s.broken ? Math.min(s.failedAt, at) : at;
        s.broken = true;
        await s.file.truncate(s.failedAt).catch(() => undefined);
        return false;
      },
    );
    return done.catch((err: unknown) => {
      throw new UcError(isNoSpace(err) ? 'UC_NO_SPACE' : 'UC_IO', `write journal append failed: ${String(err)}`, { cause: err });
    });
  }

  private recycle(records: Buffer | undefined): void {
    if (records === undefined || this.spare.length >= SPARE_RECORDS || this.spareBytes + records.length > SPARE_BYTES_MAX) return;
    this.spare.push(records);
    this.spareBytes += records.length;
  }

  /**
   * At a freeze, after `ready()`: appends move to the other file when it is
   * empty, so the batch being frozen covers every record of this one.
   */
  rotate(): void {
    const other = this.f[1 - this.active];
    if (!this.replaying && other.used === 0) this.active = 1 - this.active;
  }

  /** A batch recording J = `seq` was written: the inactive file, if all its
   * records are at or below `seq`, is emptied in the background. */
  covered(seq: number): void {
    this.coveredSeq = Math.max(this.coveredSeq, seq);
    const s = this.f[1 - this.active];
    if (this.replaying || s.used === 0 || s.maxSeq > this.coveredSeq) return;
    this.resets = this.resets.then(() => empty(s));
  }

  /** Settles when the background emptying is done (before a freeze rotates). */
  ready(): Promise<void> {
    return this.resets;
  }

  /** [mutex, no mutation in flight] Empties the active file too when a written
   * batch covers it (after a durable commit made room for a large record). */
  async reclaimActive(): Promise<void> {
    await this.resets;
    const s = this.f[this.active];
    await s.tail;
    if (s.used > 0 && s.maxSeq <= this.coveredSeq) await empty(s);
  }

  /** Waits for appends and emptying in flight; closes the files when they are ours. */
  async close(closeFiles: boolean): Promise<void> {
    await this.resets;
    for (const s of this.f) await s.tail;
    if (!closeFiles) return;
    await this.f[0].file.close();
    await this.f[1].file.close();
  }
}

/** Waits for a file's appends, then empties it (best effort: a record left
 * behind is at or below a recorded J, or unflushed; see above). */
async function empty(s: FileState): Promise<void> {
  await s.tail;
  s.used = 0;
  s.maxSeq = 0;
  s.broken = false;
  await s.file.truncate(0).catch(() => undefined);
}

/** A record's header. The checksums come from the addon's XXH128 (no allocation
 * per record); readRecords checks them with xxhash-addon's, the same function. */
function encodeHeader(
  h: Buffer, kind: number, seq: number, lba: number, blocks: number, payload: Buffer | undefined, payloadHash: Buffer | undefined,
): void {
  h.fill(0, 0, JOURNAL_HEADER_BYTES);
  h.writeUInt32LE(MAGIC, 0);
  h[4] = kind;
  writeU64(h, 8, seq);
  writeU64(h, 16, lba);
  h.writeUInt32LE(blocks, 24);
  h.writeUInt32LE(payload?.length ?? 0, 28);
  if (payloadHash !== undefined) payloadHash.copy(h, 32, 0, HASH_BYTES);
  else if (payload !== undefined) hashInto(payload, 0, payload.length, h, 32);
  hashInto(h, 0, HEADER_HASHED_BYTES, h, HEADER_HASHED_BYTES);
}

/** The file's records from its start up to the first one that is not intact. */
async function readRecords(file: JournalFile, capacityBytes: number): Promise<JournalOp[]> {
  const ops: JournalOp[] = [];
  const h = Buffer.alloc(JOURNAL_HEADER_BYTES);
  let at = 0;
  while (at + JOURNAL_HEADER_BYTES <= capacityBytes) {
    await file.pread(h, 0, h.length, at);
    if (h.readUInt32LE(0) !== MAGIC) break;
    if (!xxh128(h.subarray(0, HEADER_HASHED_BYTES)).equals(h.subarray(HEADER_HASHED_BYTES, HEADER_HASHED_BYTES + HASH_BYTES))) break;
    const kind = h[4];
    const seq = readU64(h, 8);
    const lba = readU64(h, 16);
    const blocks = h.readUInt32LE(24);
    const payloadBytes = h.readUInt32LE(28);
    const expected = kind === KIND_WRITE ? blocks * BLOCK_BYTES : 0;
    if ((kind !== KIND_WRITE && kind !== KIND_UNMAP) || blocks === 0 || payloadBytes !== expected) break;
    if (at + JOURNAL_HEADER_BYTES + payloadBytes > capacityBytes) break;
    if (kind === KIND_UNMAP) {
      ops.push({ kind: 'unmap', seq, lba, blocks });
    } else {
      const data = Buffer.alloc(payloadBytes);
      await file.pread(data, 0, payloadBytes, at + JOURNAL_HEADER_BYTES);
      if (!xxh128(data).equals(h.subarray(32, 32 + HASH_BYTES))) break;
      ops.push({ kind: 'write', seq, lba, blocks, data });
    }
    at += JOURNAL_HEADER_BYTES + payloadBytes;
  }
  return ops;
}

function writeU64(b: Buffer, at: number, n: number): void {
  b.writeUInt32LE(n >>> 0, at);
  b.writeUInt32LE(Math.floor(n / 0x1_0000_0000), at + 4);
}

function readU64(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 0x1_0000_0000;
}

/** The J record: the sequence of the last mutation a metadata state includes. */
export function encodeJournalSeq(seq: number): Buffer {
  const b = Buffer.alloc(8);
  writeU64(b, 0, seq);
  return b;
}

export function decodeJournalSeq(v: Buffer | undefined): number {
  if (v === undefined) return 0;
  if (v.length !== 8) throw new UcError('UC_META_CORRUPT', `journal sequence record has ${v.length} bytes, not 8`);
  return readU64(v, 0);
}
