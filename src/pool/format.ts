// Superblock, byte by byte (docs/format.md is the prose spec). The first 4 KiB of
// the pool hold two 2 KiB copies. Every write goes to one copy at a time, followed
// by an fdatasync, so a torn superblock write always leaves the other copy valid;
// the valid copy with the highest generation wins. A copy is valid when its CRC
// matches and every field is in range; a damaged copy is ignored if the other is valid.
//
// slot offset  size  field
//   0          8     magic "UBLKCMPR"
//   8          4     format version (u32 BE) = 1
//  12          4     generation (u32 BE), +1 per copy written
//  16         16     pool uuid
//  32          4     block size = 4096
//  36          4     segment size in bytes (power of two, 64 KiB..1 GiB)
//  40          8     logical size in bytes
//  48          8     byte offset of segment 0 (= 4096)
//  56          4     segment count
//  60          1     layout: 0 packed, 1 direct
//  61          3     reserved, zero
//  64          8     durable commit sequence: the metadata commit last known durable
//                    (0 = none recorded); metadata whose S record is older is refused
//  72       1972     reserved, zero
// 2044          4     crc32 (zlib) of bytes 0..2043
import assert from 'node:assert';
import { randomUUID } from 'node:crypto';
import zlib from 'node:zlib';
import { UcError } from '../util/errors.js';
import { RESERVED_SEGMENTS, SEGMENT_BYTES_MIN } from '../util/limits.js';
import { BLOCK_BYTES } from '../util/units.js';
import type { PoolStore } from './store.js';

export const SUPERBLOCK_BYTES = 4096;
export const SLOT_BYTES = 2048;
export const MAGIC = Buffer.from('UBLKCMPR', 'ascii');
export const FORMAT_VERSION = 1;
export const LAYOUT_PACKED = 0;
export const LAYOUT_DIRECT = 1;

export interface Superblock {
  version: number;
  generation: number;
  uuid: Buffer;
  blockBytes: number;
  segmentBytes: number;
  logicalBytes: number;
  dataOffset: number;
  segmentCount: number;
  layout: number;
  /** Sequence of the last metadata commit known durable (0 = none recorded). */
  durableSeq: number;
}

export function newUuid(): Buffer {
  return Buffer.from(randomUUID().replaceAll('-', ''), 'hex');
}

export function uuidText(uuid: Buffer): string {
  const h = uuid.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function encodeSlot(sb: Superblock): Buffer {
  assert.equal(sb.uuid.length, 16);
  assert(Number.isSafeInteger(sb.logicalBytes) && sb.logicalBytes % BLOCK_BYTES === 0);
  const b = Buffer.alloc(SLOT_BYTES);
  MAGIC.copy(b, 0);
  b.writeUInt32BE(sb.version, 8);
  b.writeUInt32BE(sb.generation >>> 0, 12);
  sb.uuid.copy(b, 16);
  b.writeUInt32BE(sb.blockBytes, 32);
  b.writeUInt32BE(sb.segmentBytes, 36);
  b.writeBigUInt64BE(BigInt(sb.logicalBytes), 40);
  b.writeBigUInt64BE(BigInt(sb.dataOffset), 48);
  b.writeUInt32BE(sb.segmentCount, 56);
  b.writeUInt8(sb.layout, 60);
  assert(Number.isSafeInteger(sb.durableSeq) && sb.durableSeq >= 0);
  b.writeBigUInt64BE(BigInt(sb.durableSeq), 64);
  b.writeUInt32BE(zlib.crc32(b.subarray(0, SLOT_BYTES - 4)), SLOT_BYTES - 4);
  return b;
}

export type SlotResult =
  | { kind: 'ok'; sb: Superblock }
  | { kind: 'foreign' }
  | { kind: 'newer'; version: number }
  | { kind: 'bad'; why: string };

const SEGMENT_BYTES_MAX = 2 ** 30;

/** Decodes one copy: CRC first (a damaged copy must not decide anything), then the
 * version, then the range of every field. Never throws on slot content. */
export function decodeSlot(b: Buffer): SlotResult {
  assert.equal(b.length, SLOT_BYTES);
  if (!b.subarray(0, 8).equals(MAGIC)) return { kind: 'foreign' };
  if (zlib.crc32(b.subarray(0, SLOT_BYTES - 4)) !== b.readUInt32BE(SLOT_BYTES - 4)) {
    return { kind: 'bad', why: 'checksum mismatch' };
  }
  const version = b.readUInt32BE(8);
  if (version > FORMAT_VERSION) return { kind: 'newer', version };
  if (version === 0) return { kind: 'bad', why: 'format version 0' };
  const logical = b.readBigUInt64BE(40);
  const offset = b.readBigUInt64BE(48);
  const seq = b.readBigUInt64BE(64);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  if (logical > max || offset > max || seq > max) return { kind: 'bad', why: 'a 64-bit field is out of range' };
  const sb: Superblock = {
    version,
    generation: b.readUInt32BE(12),
    uuid: Buffer.from(b.subarray(16, 32)),
    blockBytes: b.readUInt32BE(32),
    segmentBytes: b.readUInt32BE(36),
    logicalBytes: Number(logical),
    dataOffset: Number(offset),
    segmentCount: b.readUInt32BE(56),
    layout: b.readUInt8(60),
    durableSeq: Number(seq),
  };
  const why = rangeProblem(sb);
  return why === undefined ? { kind: 'ok', sb } : { kind: 'bad', why };
}

/** The first field of a decoded copy that is out of range, if any. */
function rangeProblem(sb: Superblock): string | undefined {
  if (sb.blockBytes !== BLOCK_BYTES) return `block size ${sb.blockBytes}`;
  if (sb.dataOffset !== SUPERBLOCK_BYTES) return `data offset ${sb.dataOffset}`;
  const seg = sb.segmentBytes;
  if (seg < SEGMENT_BYTES_MIN || seg > SEGMENT_BYTES_MAX || (seg & (seg - 1)) !== 0) return `segment size ${seg}`;
  if (sb.logicalBytes <= 0 || sb.logicalBytes % BLOCK_BYTES !== 0) return `logical size ${sb.logicalBytes}`;
  if (sb.layout !== LAYOUT_PACKED && sb.layout !== LAYOUT_DIRECT) return `layout ${sb.layout}`;
  if (sb.layout === LAYOUT_PACKED && sb.segmentCount < RESERVED_SEGMENTS + 2) return `segment count ${sb.segmentCount}`;
  if (!Number.isSafeInteger(sb.dataOffset + sb.segmentCount * seg)) return `segment count ${sb.segmentCount}`;
  return undefined;
}

/** Bytes a pool with this superblock occupies. */
export function poolBytesOf(sb: Superblock): number {
  return sb.dataOffset + sb.segmentCount * sb.segmentBytes;
}

/** Both copies as decoded, and which one wins (the valid copy of highest generation). */
export interface SuperblockCopies {
  slots: [SlotResult, SlotResult];
  /** Index of the winning copy, or -1 when neither is valid. */
  winner: number;
}

export async function readCopies(pool: PoolStore): Promise<SuperblockCopies> {
  const head = Buffer.alloc(SUPERBLOCK_BYTES);
  await pool.pread(head, 0, SUPERBLOCK_BYTES, 0);
  const slots: [SlotResult, SlotResult] = [decodeSlot(head.subarray(0, SLOT_BYTES)), decodeSlot(head.subarray(SLOT_BYTES))];
  let winner = -1;
  slots.forEach((s, i) => {
    if (s.kind !== 'ok') return;
    const best = slots[winner];
    if (winner < 0 || (best.kind === 'ok' && newerGeneration(s.sb.generation, best.sb.generation))) winner = i;
  });
  return { slots, winner };
}

/** Serial-number order (RFC 1982) on the u32 generation: one copy is written per
 * durable commit, so the counter may wrap; the two copies stay close together. */
export function newerGeneration(a: number, b: number): boolean {
  const d = (a - b) >>> 0;
  return d !== 0 && d < 0x8000_0000;
}

/** Reads and validates the superblock; never writes. */
export async function readSuperblock(pool: PoolStore): Promise<Superblock> {
  return (await readSuperblockCopies(pool)).sb;
}

/** readSuperblock, also naming the winning copy (the next write goes to the other). */
export async function readSuperblockCopies(pool: PoolStore): Promise<{ sb: Superblock; slot: number }> {
  const { slots, winner } = await readCopies(pool);
  for (const s of slots) {
    if (s.kind === 'newer') {
      throw new UcError('UC_POOL_VERSION', `pool format version ${s.version} is newer than this build reads (${FORMAT_VERSION})`);
    }
  }
  if (slots.every((s) => s.kind === 'foreign')) {
    throw new UcError('UC_POOL_FOREIGN', 'no ublk-compress superblock (bad magic): not our pool');
  }
  if (winner < 0) {
    if (pool.sizeBytes < SUPERBLOCK_BYTES) {
      throw new UcError('UC_POOL_TRUNCATED', `pool is ${pool.sizeBytes} bytes, shorter than its superblock`);
    }
    const why = slots.map((s, i) => `copy ${i}: ${s.kind === 'bad' ? s.why : 'bad magic'}`).join('; ');
    throw new UcError('UC_POOL_CORRUPT', `both superblock copies are damaged (${why})`);
  }
  const w = slots[winner];
  assert(w.kind === 'ok');
  const sb = w.sb;
  if (pool.sizeBytes < poolBytesOf(sb)) {
    throw new UcError(
      'UC_POOL_TRUNCATED',
      `pool is ${pool.sizeBytes} bytes but its superblock needs ${poolBytesOf(sb)}`,
    );
  }
  return { sb, slot: winner };
}

/** Writes one copy with generation + 1, then fdatasyncs; returns what was written. */
export async function writeSlot(pool: PoolStore, sb: Superblock, slot: number): Promise<Superblock> {
  assert(slot === 0 || slot === 1);
  const next = { ...sb, generation: (sb.generation + 1) >>> 0 };
  await pool.pwrite(encodeSlot(next), 0, SLOT_BYTES, slot * SLOT_BYTES);
  try {
    await pool.fdatasync();
  } catch (err) {
    throw new PoolSyncError(err);
  }
  return next;
}

/** An fdatasync of the pool failed. Unlike a failed pwrite, it may be the one report
 * of lost pages written by someone else on the same file (Linux tells one fsync). */
export class PoolSyncError extends Error {
  constructor(readonly original: unknown) {
    super(`fdatasync of the pool failed: ${original instanceof Error ? original.message : String(original)}`, { cause: original });
  }
}

/** Writes both copies (generation + 1), each followed by an fdatasync. */
export async function writeSuperblock(pool: PoolStore, sb: Superblock): Promise<Superblock> {
  const next = { ...sb, generation: (sb.generation + 1) >>> 0 };
  const slot = encodeSlot(next);
  await pool.pwrite(slot, 0, SLOT_BYTES, 0);
  await pool.fdatasync();
  await pool.pwrite(slot, 0, SLOT_BYTES, SLOT_BYTES);
  await pool.fdatasync();
  return next;
}
