// Metadata values, byte by byte (all big-endian). docs/format.md mirrors this.
import assert from 'node:assert';
import { FINGERPRINT_BYTES } from '../util/units.js';
import { UcError } from '../util/errors.js';

/** E value: segment u32 | offset u32 | stored length u16 | codec u8 | refcount u32 |
 * fingerprint 16 B  (31 bytes). Offset points at the fragment header. */
export interface Extent {
  id: number;
  segment: number;
  offset: number;
  storedBytes: number;
  codecId: number;
  refs: number;
  fingerprint: Buffer;
}

/**
 * Every Extent object comes from here: one object literal gives them all one
 * V8 hidden class. Objects of one shape built at several places (or copied
 * with `{ ...e }`, which gives another class) make each optimised function
 * that reads them throw its code away when the next shape shows up, and under
 * emulation a recompile costs as much as hundreds of writes.
 */
export function extentRecord(
  id: number, segment: number, offset: number, storedBytes: number, codecId: number, refs: number, fingerprint: Buffer,
): Extent {
  return { id, segment, offset, storedBytes, codecId, refs, fingerprint };
}

/** A copy the caller may change (same hidden class as every other Extent). */
export function copyExtent(e: Extent): Extent {
  return extentRecord(e.id, e.segment, e.offset, e.storedBytes, e.codecId, e.refs, e.fingerprint);
}

export const EXTENT_VALUE_BYTES = 31;

export function encodeExtent(e: Extent): Buffer {
  assert(e.refs > 0, 'an extent without references is deleted, not stored');
  assert.equal(e.fingerprint.length, FINGERPRINT_BYTES);
  const v = Buffer.allocUnsafe(EXTENT_VALUE_BYTES);
  v.writeUInt32BE(e.segment, 0);
  v.writeUInt32BE(e.offset, 4);
  v.writeUInt16BE(e.storedBytes, 8);
  v.writeUInt8(e.codecId, 10);
  v.writeUInt32BE(e.refs, 11);
  e.fingerprint.copy(v, 15);
  return v;
}

export function decodeExtent(id: number, v: Buffer): Extent {
  if (v.length !== EXTENT_VALUE_BYTES) {
    throw new UcError('UC_POOL_CORRUPT', `extent ${id}: record is ${v.length} bytes`);
  }
  // The fingerprint is a view, not a copy: a record's buffer is the caller's (a store lookup
  // or scan result) and fingerprints are never written to; a cold read decodes one per block.
  return extentRecord(
    id, v.readUInt32BE(0), v.readUInt32BE(4), v.readUInt16BE(8), v.readUInt8(10), v.readUInt32BE(11), v.subarray(15, 31),
  );
}

/** What an LBA maps to; no L record at all means the block reads as zeros. */
export type MapValue =
  /** A stored extent (shared by every LBA holding the same block). */
  | { readonly kind: 'extent'; readonly id: number }
  /** A block that is one 8-byte pattern repeated (never all zeros). */
  | { readonly kind: 'fill'; readonly pattern: Buffer };

/** L value: tag u8 | 8 bytes. Tag 1: extent id u64. Tag 2: fill pattern. */
const MAP_TAG_EXTENT = 1;
const MAP_TAG_FILL = 2;
export const MAP_VALUE_BYTES = 9;
const FILL_PATTERN_BYTES = 8;

/** The map value of a fill block whose first 8 bytes, repeated, make the block. */
export function fillValue(block: Buffer, offset: number): MapValue {
  return { kind: 'fill', pattern: Buffer.from(block.subarray(offset, offset + FILL_PATTERN_BYTES)) };
}

export function encodeMapValue(m: MapValue): Buffer {
  const v = Buffer.allocUnsafe(MAP_VALUE_BYTES);
  if (m.kind === 'extent') {
    assert(Number.isSafeInteger(m.id) && m.id >= 0);
    v[0] = MAP_TAG_EXTENT;
    v.writeUInt32BE(Math.floor(m.id / 0x1_0000_0000), 1);
    v.writeUInt32BE(m.id >>> 0, 5);
    return v;
  }
  assert.equal(m.pattern.length, FILL_PATTERN_BYTES);
  v[0] = MAP_TAG_FILL;
  m.pattern.copy(v, 1);
  assert(v.readBigUInt64BE(1) !== 0n, 'zero blocks are not mapped');
  return v;
}

export function decodeMapValue(v: Buffer): MapValue {
  if (v.length !== MAP_VALUE_BYTES) throw new UcError('UC_POOL_CORRUPT', 'bad map record size');
  if (v[0] === MAP_TAG_FILL) return { kind: 'fill', pattern: Buffer.from(v.subarray(1, MAP_VALUE_BYTES)) };
  if (v[0] !== MAP_TAG_EXTENT) throw new UcError('UC_POOL_CORRUPT', `bad map tag ${v[0]}`);
  return { kind: 'extent', id: decodeU64(v.subarray(1, MAP_VALUE_BYTES)) };
}

/** H value: extent id u64. */
export function encodeU64(n: number): Buffer {
  assert(Number.isSafeInteger(n) && n >= 0);
  const v = Buffer.allocUnsafe(8);
  v.writeUInt32BE(Math.floor(n / 0x1_0000_0000), 0);
  v.writeUInt32BE(n >>> 0, 4);
  return v;
}

export function decodeU64(v: Buffer): number {
  if (v.length !== 8) throw new UcError('UC_POOL_CORRUPT', 'bad u64 record size');
  return v.readUInt32BE(0) * 0x1_0000_0000 + v.readUInt32BE(4);
}

/** S value: format version u32 | uuid 16 B | logical bytes u64 | segment bytes u32 |
 * segment count u32 | next extent id u64 | commit sequence u64 | mapped blocks u64 |
 * extent count u64  (68 bytes). */
export interface MetaState {
  version: number;
  uuid: Buffer;
  logicalBytes: number;
  segmentBytes: number;
  segmentCount: number;
  nextExtentId: number;
  commitSeq: number;
  mappedBlocks: number;
  extentCount: number;
}

export const STATE_VALUE_BYTES = 68;

export function encodeState(s: MetaState): Buffer {
  const v = Buffer.alloc(STATE_VALUE_BYTES);
  v.writeUInt32BE(s.version, 0);
  s.uuid.copy(v, 4);
  encodeU64(s.logicalBytes).copy(v, 20);
  v.writeUInt32BE(s.segmentBytes, 28);
  v.writeUInt32BE(s.segmentCount, 32);
  encodeU64(s.nextExtentId).copy(v, 36);
  encodeU64(s.commitSeq).copy(v, 44);
  encodeU64(s.mappedBlocks).copy(v, 52);
  encodeU64(s.extentCount).copy(v, 60);
  return v;
}

export function decodeState(v: Buffer): MetaState {
  if (v.length !== STATE_VALUE_BYTES) throw new UcError('UC_META_CORRUPT', 'metadata state record has a bad size');
  return {
    version: v.readUInt32BE(0),
    uuid: Buffer.from(v.subarray(4, 20)),
    logicalBytes: decodeU64(v.subarray(20, 28)),
    segmentBytes: v.readUInt32BE(28),
    segmentCount: v.readUInt32BE(32),
    nextExtentId: decodeU64(v.subarray(36, 44)),
    commitSeq: decodeU64(v.subarray(44, 52)),
    mappedBlocks: decodeU64(v.subarray(52, 60)),
    extentCount: decodeU64(v.subarray(60, 68)),
  };
}

/** C value: count u16 | count x u64 (the engine's cumulative counters, in the
 * engine's fixed order; a newer build appends, an older one reads its prefix). */
export function encodeCounterRecord(values: readonly number[]): Buffer {
  assert(values.length <= 0xffff);
  const v = Buffer.allocUnsafe(2 + 8 * values.length);
  v.writeUInt16BE(values.length, 0);
  values.forEach((n, i) => encodeU64(n).copy(v, 2 + 8 * i));
  return v;
}

export function decodeCounterRecord(v: Buffer): number[] {
  if (v.length < 2 || v.length !== 2 + 8 * v.readUInt16BE(0)) {
    throw new UcError('UC_META_CORRUPT', 'metadata counter record has a bad size');
  }
  const out: number[] = [];
  for (let off = 2; off < v.length; off += 8) out.push(decodeU64(v.subarray(off, off + 8)));
  return out;
}
