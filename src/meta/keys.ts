// Metadata keys (docs/format.md): one ASCII prefix byte, then a
// big-endian number, so a range scan walks LBAs, extents and segments in order.
//   S                  superblock copy + commit state
//   L<lba u64>         -> map entry (extent id or fill pattern); absent = zeros
//   E<extent id u64>   -> extent record
//   H<fingerprint 16>  -> extent id (dedup index)
//   G<segment u32>     -> segment record
//   C                  cumulative counters of the engine
//   J                  sequence of the last write-journal record the state includes
import assert from 'node:assert';

export const PREFIX_S = 0x53;
export const PREFIX_L = 0x4c;
export const PREFIX_E = 0x45;
export const PREFIX_H = 0x48;
export const PREFIX_G = 0x47;
export const PREFIX_C = 0x43;
export const PREFIX_J = 0x4a;

export const KEY_S = Buffer.from([PREFIX_S]);
export const KEY_C = Buffer.from([PREFIX_C]);
export const KEY_J = Buffer.from([PREFIX_J]);

function u64Key(prefix: number, n: number): Buffer {
  assert(Number.isSafeInteger(n) && n >= 0);
  const key = Buffer.allocUnsafe(9);
  key[0] = prefix;
  key.writeUInt32BE(Math.floor(n / 0x1_0000_0000), 1);
  key.writeUInt32BE(n >>> 0, 5);
  return key;
}

function u64OfKey(key: Buffer): number {
  assert.equal(key.length, 9);
  const n = key.readUInt32BE(1) * 0x1_0000_0000 + key.readUInt32BE(5);
  assert(Number.isSafeInteger(n));
  return n;
}

export const lKey = (lba: number): Buffer => u64Key(PREFIX_L, lba);
export const eKey = (extentId: number): Buffer => u64Key(PREFIX_E, extentId);
export const lbaOfKey = u64OfKey;
export const extentIdOfKey = u64OfKey;

export function hKey(fingerprint: Buffer): Buffer {
  assert.equal(fingerprint.length, 16);
  const key = Buffer.allocUnsafe(17);
  key[0] = PREFIX_H;
  fingerprint.copy(key, 1);
  return key;
}

export function gKey(segment: number): Buffer {
  assert(Number.isInteger(segment) && segment >= 0 && segment <= 0xffff_ffff);
  const key = Buffer.allocUnsafe(5);
  key[0] = PREFIX_G;
  key.writeUInt32BE(segment, 1);
  return key;
}

export function segmentOfKey(key: Buffer): number {
  assert.equal(key.length, 5);
  return key.readUInt32BE(1);
}

/** The first key after every key that starts with `prefix` (exclusive upper bound). */
export function prefixEnd(prefix: number): Buffer {
  return Buffer.from([prefix + 1]);
}

/** Smallest key strictly greater than `key` (to resume a scan). */
export function keySuccessor(key: Buffer): Buffer {
  return Buffer.concat([key, Buffer.from([0])]);
}
