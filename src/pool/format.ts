// Superblock, byte by byte (docs/format.md is the prose spec). The first 4 KiB of
// the pool hold two 2 KiB copies written one after the other with an fdatasync in
// between, so a torn superblock write always leaves one valid copy; the copy with
// the highest generation wins.
//
// slot offset  size  field
//   0          8     magic "UBLKCMPR"
//   8          4     format version (u32 BE) = 1
//  12          4     generation (u32 BE), +1 per superblock write
//  16         16     pool uuid
//  32          4     block size = 4096
//  36          4     segment size in bytes
//  40          8     logical size in bytes
//  48          8     byte offset of segment 0 (= 4096)
//  56          4     segment count
//  60          1     layout: 0 packed, 1 direct
//  61          3     reserved, zero
//  64       1980     reserved, zero
// 2044          4     crc32 (zlib) of bytes 0..2043
import assert from 'node:assert';
import { randomUUID } from 'node:crypto';
import zlib from 'node:zlib';
import { UcError } from '../util/errors.js';
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
  b.writeUInt32BE(zlib.crc32(b.subarray(0, SLOT_BYTES - 4)), SLOT_BYTES - 4);
  return b;
}

type SlotResult = { kind: 'ok'; sb: Superblock } | { kind: 'foreign' } | { kind: 'bad'; why: string };

export function decodeSlot(b: Buffer): SlotResult {
  assert.equal(b.length, SLOT_BYTES);
  if (!b.subarray(0, 8).equals(MAGIC)) return { kind: 'foreign' };
  const version = b.readUInt32BE(8);
  if (version > FORMAT_VERSION) {
    throw new UcError(
      'UC_POOL_VERSION',
      `pool format version ${version} is newer than this build reads (${FORMAT_VERSION})`,
    );
  }
  if (zlib.crc32(b.subarray(0, SLOT_BYTES - 4)) !== b.readUInt32BE(SLOT_BYTES - 4)) {
    return { kind: 'bad', why: 'checksum mismatch' };
  }
  const sb: Superblock = {
    version,
    generation: b.readUInt32BE(12),
    uuid: Buffer.from(b.subarray(16, 32)),
    blockBytes: b.readUInt32BE(32),
    segmentBytes: b.readUInt32BE(36),
    logicalBytes: Number(b.readBigUInt64BE(40)),
    dataOffset: Number(b.readBigUInt64BE(48)),
    segmentCount: b.readUInt32BE(56),
    layout: b.readUInt8(60),
  };
  if (sb.blockBytes !== BLOCK_BYTES || sb.dataOffset !== SUPERBLOCK_BYTES || sb.segmentBytes === 0) {
    return { kind: 'bad', why: 'geometry fields out of range' };
  }
  return { kind: 'ok', sb };
}

/** Bytes a pool with this superblock occupies. */
export function poolBytesOf(sb: Superblock): number {
  return sb.dataOffset + sb.segmentCount * sb.segmentBytes;
}

/** Reads and validates the superblock; never writes. */
export async function readSuperblock(pool: PoolStore): Promise<Superblock> {
  const head = Buffer.alloc(SUPERBLOCK_BYTES);
  await pool.pread(head, 0, SUPERBLOCK_BYTES, 0);
  const slots = [decodeSlot(head.subarray(0, SLOT_BYTES)), decodeSlot(head.subarray(SLOT_BYTES))];
  if (slots.every((s) => s.kind === 'foreign')) {
    throw new UcError('UC_POOL_FOREIGN', 'no ublk-compress superblock (bad magic): not our pool');
  }
  const good = slots.flatMap((s) => (s.kind === 'ok' ? [s.sb] : []));
  if (good.length === 0) {
    if (pool.sizeBytes < SUPERBLOCK_BYTES) {
      throw new UcError('UC_POOL_TRUNCATED', `pool is ${pool.sizeBytes} bytes, shorter than its superblock`);
    }
    throw new UcError('UC_POOL_CORRUPT', 'both superblock copies are damaged');
  }
  const sb = good.reduce((a, b) => (b.generation > a.generation ? b : a));
  if (pool.sizeBytes < poolBytesOf(sb)) {
    throw new UcError(
      'UC_POOL_TRUNCATED',
      `pool is ${pool.sizeBytes} bytes but its superblock needs ${poolBytesOf(sb)}`,
    );
  }
  return sb;
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
