// L, E and H records as u32 words, the form MetaCache's slot tables and
// MetaView's pending tables hold them in (and the native read path reads:
// native/packed-tables.cc mirrors the map and extent layouts).
//   key of an LBA or extent id:  [low 32 bits, high bits]
//   key of a fingerprint:        its 16 bytes as 4 little-endian words
//   map value (3 words):         tag (1 extent, 2 fill), then the extent id's high
//                                and low words, or the fill pattern as 2 big-endian words
//   extent value (8 words):      segment, offset, stored bytes | codec << 16, refs,
//                                fingerprint (4 little-endian words)
//   dedup value (2 words):       extent id, high word then low word
import { extentRecord, type Extent, type MapValue } from '../meta/records.js';
import { setU32le, u32le } from '../util/bytes.js';

export const MAP_WORDS = 3;
export const EXTENT_WORDS = 8;
export const DEDUP_WORDS = 2;
export const NUMBER_KEY_WORDS = 2;
export const FINGERPRINT_KEY_WORDS = 4;

/** The map value tags, the same bytes as an L record's tag. */
export const TAG_EXTENT = 1;
export const TAG_FILL = 2;
const TWO32 = 0x1_0000_0000;

export function setNumberKey(key: Uint32Array, n: number): void {
  key[0] = n >>> 0;
  key[1] = Math.floor(n / TWO32);
}

export function numberOfKey(keys: Uint32Array, at: number): number {
  return keys[at + 1] * TWO32 + keys[at];
}

export function setFingerprintKey(key: Uint32Array, fp: Buffer): void {
  key[0] = u32le(fp, 0);
  key[1] = u32le(fp, 4);
  key[2] = u32le(fp, 8);
  key[3] = u32le(fp, 12);
}

/** A fresh 16-byte fingerprint from 4 words at `at`. */
export function fingerprintOfWords(words: Uint32Array, at: number): Buffer {
  const fp = Buffer.allocUnsafe(16);
  setU32le(fp, 0, words[at]);
  setU32le(fp, 4, words[at + 1]);
  setU32le(fp, 8, words[at + 2]);
  setU32le(fp, 12, words[at + 3]);
  return fp;
}

export function writeMapWords(v: Uint32Array, o: number, value: MapValue): void {
  if (value.kind === 'extent') {
    v[o] = TAG_EXTENT;
    v[o + 1] = Math.floor(value.id / TWO32);
    v[o + 2] = value.id >>> 0;
  } else {
    v[o] = TAG_FILL;
    v[o + 1] = value.pattern.readUInt32BE(0);
    v[o + 2] = value.pattern.readUInt32BE(4);
  }
}

export function readMapWords(v: Uint32Array, o: number): MapValue {
  if (v[o] === TAG_EXTENT) return { kind: 'extent', id: v[o + 1] * TWO32 + v[o + 2] };
  const pattern = Buffer.allocUnsafe(8);
  pattern.writeUInt32BE(v[o + 1], 0);
  pattern.writeUInt32BE(v[o + 2], 4);
  return { kind: 'fill', pattern };
}

export function writeExtentWords(v: Uint32Array, o: number, e: Extent): void {
  v[o] = e.segment;
  v[o + 1] = e.offset;
  v[o + 2] = (e.storedBytes & 0xffff) | (e.codecId << 16);
  v[o + 3] = e.refs;
  const f = e.fingerprint;
  v[o + 4] = u32le(f, 0);
  v[o + 5] = u32le(f, 4);
  v[o + 6] = u32le(f, 8);
  v[o + 7] = u32le(f, 12);
}

/** A fresh Extent (the caller may change it) from the words at `o`. */
export function readExtentWords(id: number, v: Uint32Array, o: number): Extent {
  return extentRecord(id, v[o], v[o + 1], v[o + 2] & 0xffff, v[o + 2] >>> 16, v[o + 3], fingerprintOfWords(v, o + 4));
}

export function writeIdWords(v: Uint32Array, o: number, id: number): void {
  v[o] = Math.floor(id / TWO32);
  v[o + 1] = id >>> 0;
}

export function readIdWords(v: Uint32Array, o: number): number {
  return v[o] * TWO32 + v[o + 1];
}
