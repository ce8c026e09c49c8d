// Verifies the block checksums of LevelDB table files (*.ldb, *.sst) without
// LevelDB: classic-level does not expose verify_checksums, so LevelDB reads a
// flipped byte in an uncompressed block as a different value, and a compaction
// over keys that no longer sort aborts the process. Every open (meta-clone.ts)
// runs it before LevelDB sees the directory; `check` reports what it finds.
//
// Table format (leveldb doc/table_format.md): blocks, each followed by a 5-byte
// trailer (type u8: 0 raw, 1 snappy; masked crc32c u32 LE of block + type); a
// 48-byte footer: metaindex and index block handles (varint64 offset, size),
// padding, magic. Index and metaindex blocks map keys to block handles.
import fs from 'node:fs';
import path from 'node:path';
import { crc32c, unmaskCrc } from './log-scan.js';

const FOOTER_BYTES = 48;
const TRAILER_BYTES = 5;
const MAGIC_LO = 0x8b80fb57;
const MAGIC_HI = 0xdb477524;

class Reader {
  constructor(
    readonly b: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  varint(): number {
    let v = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.pos >= this.end) throw new Error('varint runs past its block');
      const byte = this.b[this.pos++];
      v += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return v;
    }
    throw new Error('varint too long');
  }
}

/** Snappy raw-format decompression (enough for index and metaindex blocks). */
export function snappyDecompress(src: Buffer): Buffer {
  const r = new Reader(src, 0, src.length);
  const out = Buffer.alloc(r.varint());
  let o = 0;
  while (r.pos < src.length) {
    const tag = src[r.pos++];
    let len: number;
    let offset: number;
    if ((tag & 3) === 0) {
      len = (tag >>> 2) + 1;
      if (len > 60) {
        const n = len - 60;
        len = src.readUIntLE(r.pos, n) + 1;
        r.pos += n;
      }
      if (r.pos + len > src.length || o + len > out.length) throw new Error('snappy literal out of range');
      src.copy(out, o, r.pos, r.pos + len);
      r.pos += len;
      o += len;
      continue;
    }
    if ((tag & 3) === 1) {
      len = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | src[r.pos++];
    } else if ((tag & 3) === 2) {
      len = (tag >>> 2) + 1;
      offset = src.readUInt16LE(r.pos);
      r.pos += 2;
    } else {
      len = (tag >>> 2) + 1;
      offset = src.readUInt32LE(r.pos);
      r.pos += 4;
    }
    if (offset === 0 || offset > o || o + len > out.length) throw new Error('snappy copy out of range');
    for (let i = 0; i < len; i++, o++) out[o] = out[o - offset];
  }
  if (o !== out.length) throw new Error('snappy output shorter than announced');
  return out;
}

/** The block at `handle` after its trailer checks out (decompressed unless `!decode`),
 * or a problem text. */
function readBlock(t: Buffer, offset: number, size: number, decode = true): Buffer | string {
  if (offset + size + TRAILER_BYTES > t.length - FOOTER_BYTES) return `block at ${offset} runs past the end`;
  const type = t[offset + size];
  const want = unmaskCrc(t.readUInt32LE(offset + size + 1));
  if (crc32c(t, offset, offset + size + 1) !== want) return `block at ${offset} (${size} bytes) fails its checksum`;
  if (type === 0 || (type === 1 && !decode)) return t.subarray(offset, offset + size);
  if (type !== 1) return `block at ${offset} has unknown compression ${type}`;
  try {
    return snappyDecompress(t.subarray(offset, offset + size));
  } catch (err) {
    return `block at ${offset} does not decompress (${String(err)})`;
  }
}

/** Block handles stored as the values of a decoded index or metaindex block. */
function handlesOf(block: Buffer): Array<{ key: string; offset: number; size: number }> {
  if (block.length < 4) throw new Error('block too short');
  const restarts = block.readUInt32LE(block.length - 4);
  const end = block.length - 4 - 4 * restarts;
  if (end < 0) throw new Error('bad restart count');
  const r = new Reader(block, 0, end);
  const out: Array<{ key: string; offset: number; size: number }> = [];
  let key = Buffer.alloc(0);
  while (r.pos < end) {
    const shared = r.varint();
    const own = r.varint();
    const valueBytes = r.varint();
    if (shared > key.length || r.pos + own + valueBytes > end) throw new Error('entry out of range');
    key = Buffer.concat([key.subarray(0, shared), block.subarray(r.pos, r.pos + own)]);
    r.pos += own;
    const v = new Reader(block, r.pos, r.pos + valueBytes);
    out.push({ key: key.toString('latin1'), offset: v.varint(), size: v.varint() });
    r.pos += valueBytes;
  }
  return out;
}

export interface VerifyOptions {
  /** Also decompress every data block (default; `check`). The checksum alone
   * catches a flipped bit, so open skips that work. */
  decodeData?: boolean;
}

/** Problems in one table file's bytes (empty when every block checks out). */
export function verifyTable(t: Buffer, o: VerifyOptions = {}): string[] {
  if (t.length < FOOTER_BYTES) return ['shorter than a table footer'];
  const f = t.length - FOOTER_BYTES;
  if (t.readUInt32LE(t.length - 8) !== MAGIC_LO || t.readUInt32LE(t.length - 4) !== MAGIC_HI) return ['bad footer magic'];
  try {
    const r = new Reader(t, f, t.length - 8);
    const meta = { offset: r.varint(), size: r.varint() };
    const index = { offset: r.varint(), size: r.varint() };
    const problems: string[] = [];
    const blocks: Array<{ offset: number; size: number }> = [];
    for (const [what, h] of [['metaindex', meta], ['index', index]] as const) {
      const b = readBlock(t, h.offset, h.size);
      if (typeof b === 'string') return [`${what} ${b}`];
      blocks.push(...handlesOf(b));
    }
    for (const h of blocks) {
      const b = readBlock(t, h.offset, h.size, o.decodeData ?? true);
      if (typeof b === 'string') problems.push(b);
    }
    return problems;
  } catch (err) {
    return [`unreadable structure (${String(err)})`];
  }
}

/** Problems in every table of metadata directory `dir`. Reads only. */
export function tableDamage(dir: string, o: VerifyOptions = {}): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(dir).filter((n) => /\.(ldb|sst)$/.test(n)).sort()) {
    for (const p of verifyTable(fs.readFileSync(path.join(dir, name)), o)) out.push(`metadata table ${name}: ${p}`);
  }
  return out;
}
