// The pool every fault case starts from: a small real pool (file store + LevelDB)
// written in three sessions through the engine's public API, so that the metadata
// holds two tables (.ldb, from the logs of sessions 1 and 2) and a live WAL (.log,
// session 3), and the segments hold superseded fragments as well as live ones.
// Records the expected content of every LBA and where every live fragment lies.
import fs from 'node:fs';
import path from 'node:path';
import { formatPool, openPool, type BlockEngine } from '../../src/engine/index.js';
import { extentIdOfKey, lbaOfKey, PREFIX_E, PREFIX_G, PREFIX_L, prefixEnd, segmentOfKey } from '../../src/meta/keys.js';
import { LevelMetaStore } from '../../src/meta/level-store.js';
import { decodeExtent, decodeMapValue } from '../../src/meta/records.js';
import { decodeSegment } from '../../src/pool/segment-record.js';
import { FRAGMENT_HEADER_BYTES } from '../../src/pool/fragment.js';
import { SUPERBLOCK_BYTES } from '../../src/pool/format.js';
import { BLOCK_BYTES } from '../../src/util/units.js';
import { fillBlock, makeBlock, randInt, ZERO_BLOCK } from '../engine/helpers.js';

export const LOGICAL_BLOCKS = 512;
export const SEGMENT_BYTES = 64 * 1024;
export const POOL_NAME = 'pool.img';
export const META_NAME = 'pool.img.meta';
export const FOREIGN_POOL = 'other.img';
export const FOREIGN_META = 'other.img.meta';
export const ENGINE_OPTS = { flushDelayMs: 0, backgroundCompaction: false } as const;
/** Room for about twice what the sessions store (~16 segments): small pools copy and hash fast. */
const POOL_SEGMENTS = 32;
const FOREIGN_SEGMENTS = 6;

/** A live fragment: where it lies in the pool file and which LBAs read it. */
export interface LiveFragment {
  extentId: number;
  codecId: number;
  storedBytes: number;
  /** Absolute byte offset of the fragment header in the pool file. */
  start: number;
  /** End of header + payload (padding excluded). */
  end: number;
  lbas: number[];
}

export interface Pristine {
  /** Directory holding POOL_NAME, META_NAME and the foreign pool. */
  dir: string;
  expected: Buffer[];
  fragments: LiveFragment[];
  /** [start, end) byte ranges of the data area that no live fragment uses. */
  unused: Array<[number, number]>;
  /** Used (non-free) segments with their fill, absolute start offset. */
  segments: Array<{ segment: number; start: number; fill: number }>;
  poolBytes: number;
}

/** Block generator: compressible, incompressible, same-fill, zero and duplicate blocks. */
function blockSource(r: () => number): () => Buffer {
  const seen: Buffer[] = [];
  let tag = 1;
  return () => {
    const x = r();
    if (x < 0.08) return ZERO_BLOCK;
    if (x < 0.18) return fillBlock(0x1111111111111111n * BigInt(1 + randInt(r, 9)));
    if (x < 0.38 && seen.length > 0) return seen[randInt(r, seen.length)];
    const b = x < 0.65 ? makeBlock(r, 0, tag++) : makeBlock(r, 55 + randInt(r, 40), tag++);
    seen.push(b);
    return b;
  };
}

async function writeRange(e: BlockEngine, expected: Buffer[], next: () => Buffer, lba: number, blocks: number): Promise<void> {
  const data = Buffer.concat(Array.from({ length: blocks }, next));
  await e.write(lba, blocks, data, false);
  for (let i = 0; i < blocks; i++) expected[lba + i] = Buffer.from(data.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES));
}

/** Writes [from, to) in runs of 1-8 blocks, flushing now and then. */
async function writeSpan(e: BlockEngine, expected: Buffer[], r: () => number, next: () => Buffer, from: number, to: number): Promise<void> {
  for (let lba = from; lba < to; ) {
    const n = Math.min(to - lba, 1 + randInt(r, 8));
    await writeRange(e, expected, next, lba, n);
    lba += n;
    if (r() < 0.1) await e.flush();
  }
}

async function overwriteSome(e: BlockEngine, expected: Buffer[], r: () => number, next: () => Buffer, count: number, below: number): Promise<void> {
  for (let k = 0; k < count; ) {
    const n = 1 + randInt(r, 4);
    await writeRange(e, expected, next, randInt(r, below - n), n);
    k += n;
    if (r() < 0.15) await e.flush();
  }
}

async function writeSessions(dir: string, r: () => number): Promise<Buffer[]> {
  const backingPath = path.join(dir, POOL_NAME);
  const metaDir = path.join(dir, META_NAME);
  const expected: Buffer[] = Array.from({ length: LOGICAL_BLOCKS }, () => ZERO_BLOCK);
  const next = blockSource(r);
  let e = await formatPool({
    backingPath, metaDir, logicalBytes: LOGICAL_BLOCKS * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES,
    capacityBytes: SUPERBLOCK_BYTES + POOL_SEGMENTS * SEGMENT_BYTES, ...ENGINE_OPTS,
  });
  await writeSpan(e, expected, r, next, 0, 240);
  await e.close();
  e = await openPool({ backingPath, metaDir, ...ENGINE_OPTS });
  await overwriteSome(e, expected, r, next, 60, 240);
  await e.discard(200, 8);
  for (let i = 200; i < 208; i++) expected[i] = ZERO_BLOCK;
  await writeSpan(e, expected, r, next, 240, 330);
  await e.close();
  e = await openPool({ backingPath, metaDir, ...ENGINE_OPTS });
  await writeSpan(e, expected, r, next, 330, 460);
  await overwriteSome(e, expected, r, next, 50, 330);
  await e.writeZeroes(100, 6, false);
  for (let i = 100; i < 106; i++) expected[i] = ZERO_BLOCK;
  await e.close();
  return expected;
}

async function scanAll(meta: LevelMetaStore, prefix: number, each: (k: Buffer, v: Buffer) => void): Promise<void> {
  for (const [k, v] of await meta.scan(Buffer.from([prefix]), prefixEnd(prefix), 1 << 20)) each(k, v);
}

/** Reads the extent map from a scratch copy of the metadata (opening LevelDB rewrites it). */
async function readLayout(dir: string, scratch: string): Promise<Omit<Pristine, 'dir' | 'expected'>> {
  fs.cpSync(path.join(dir, META_NAME), scratch, { recursive: true });
  const meta = await LevelMetaStore.open(scratch, { create: false });
  const byExtent = new Map<number, LiveFragment>();
  const lbaOf = new Map<number, number[]>();
  const segments: Pristine['segments'] = [];
  try {
    await scanAll(meta, PREFIX_L, (k, v) => {
      const m = decodeMapValue(v);
      if (m.kind === 'extent') lbaOf.set(m.id, [...(lbaOf.get(m.id) ?? []), lbaOfKey(k)]);
    });
    await scanAll(meta, PREFIX_E, (k, v) => {
      const x = decodeExtent(extentIdOfKey(k), v);
      const start = SUPERBLOCK_BYTES + x.segment * SEGMENT_BYTES + x.offset;
      byExtent.set(x.id, {
        extentId: x.id, codecId: x.codecId, storedBytes: x.storedBytes, start,
        end: start + FRAGMENT_HEADER_BYTES + x.storedBytes, lbas: lbaOf.get(x.id) ?? [],
      });
    });
    await scanAll(meta, PREFIX_G, (k, v) => {
      const g = decodeSegment(v);
      const s = segmentOfKey(k);
      if (g.state !== 0) segments.push({ segment: s, start: SUPERBLOCK_BYTES + s * SEGMENT_BYTES, fill: g.fillBytes });
    });
  } finally {
    await meta.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const poolBytes = fs.statSync(path.join(dir, POOL_NAME)).size;
  const fragments = [...byExtent.values()].sort((a, b) => a.start - b.start);
  const unused: Array<[number, number]> = [];
  let at = SUPERBLOCK_BYTES;
  for (const f of fragments) {
    if (f.start > at) unused.push([at, f.start]);
    at = Math.max(at, f.end);
  }
  if (poolBytes > at) unused.push([at, poolBytes]);
  return { fragments, unused, segments, poolBytes };
}

/** Builds the pristine pool (and a second, foreign one) under `dir`. */
export async function buildPristine(dir: string, r: () => number): Promise<Pristine> {
  fs.mkdirSync(dir, { recursive: true });
  const expected = await writeSessions(dir, r);
  const other = await formatPool({
    backingPath: path.join(dir, FOREIGN_POOL), metaDir: path.join(dir, FOREIGN_META),
    logicalBytes: LOGICAL_BLOCKS * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES,
    capacityBytes: SUPERBLOCK_BYTES + FOREIGN_SEGMENTS * SEGMENT_BYTES, ...ENGINE_OPTS,
  });
  await other.write(0, 4, Buffer.concat([makeBlock(r, 50, 9001), makeBlock(r, 0, 9002), fillBlock(7n), makeBlock(r, 80, 9003)]), true);
  await other.close();
  const layout = await readLayout(dir, `${dir}.scratch-meta`);
  return { dir, expected, ...layout };
}
