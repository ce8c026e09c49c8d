// The packed layout's native read path on the host, without ublk: the addon
// reads the engine's own clean-record tables in place (PackedTables), and
// packedReadProbe runs the path's lookups, pool reads on an IoRing, decode and
// verification into a buffer. Every answer is compared with the engine's JS
// read of the same pool; anything the native side cannot prove must go to JS.
// Both ways of reading the pool: on the ring, and inline (pread on the
// calling thread, what a pool in memory uses).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPool, type BlockEngine, type NativeReadGeometry } from '../../src/engine/index.js';
import { IoRing, PackedTables } from '../../src/native/index.js';
import { BLOCK_BYTES } from '../../src/util/units.js';

const SEGMENT_BYTES = 256 * 1024;
const LOGICAL_BLOCKS = 8192;
/** Incompressible blocks enough to seal and write out a dozen segments. */
const RANDOM_BLOCKS = 768;

/** Block i's content: compressible text, a duplicate (dedup hit) of another block's, or random. */
function blockOf(i: number): Buffer {
  const text = (s: string): Buffer => {
    const b = Buffer.alloc(BLOCK_BYTES);
    b.write(s.repeat(200), 'latin1');
    return b;
  };
  if (i % 11 === 0) return text(`duplicate ${i % 3} `);
  if (i % 5 === 0) return text(`compressible block ${i} `);
  return crypto.randomBytes(BLOCK_BYTES);
}

async function jsRead(engine: BlockEngine, lba: number, blocks: number): Promise<Buffer> {
  const out = Buffer.alloc(blocks * BLOCK_BYTES);
  await engine.read(lba, blocks, out);
  return out;
}

describe.each([
  { how: 'ring reads', inlineReads: false },
  { how: 'inline reads', inlineReads: true },
])('packed native read path (host, no ublk), $how', ({ inlineReads }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uc-nread-'));
  const backingPath = path.join(dir, 'pool.img');
  const ring = new IoRing({ entries: 64 });
  const tables = new PackedTables();
  let engine: BlockEngine;
  let g: NativeReadGeometry;

  const probe = async (lba: number, blocks: number): Promise<{ r: number | 'js'; out: Buffer }> => {
    const out = Buffer.alloc(blocks * BLOCK_BYTES, 0xee);
    const r = await tables.probeRead(ring, g, lba, blocks, out, inlineReads);
    return { r, out };
  };

  beforeAll(async () => {
    // No JS read cache: a JS read after the damage below must read the pool as the native one does.
    engine = await formatPool({
      backingPath, logicalBytes: LOGICAL_BLOCKS * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES, flushDelayMs: 5, readCacheBytes: 0,
    });
    const shared = engine.shareNativeReads(tables);
    expect(shared).toBeDefined();
    g = shared!;
    for (let lba = 0; lba < RANDOM_BLOCKS; lba += 16) {
      const buf = Buffer.concat(Array.from({ length: 16 }, (_, k) => blockOf(lba + k)));
      await engine.write(lba, 16, buf, false);
    }
    await engine.write(RANDOM_BLOCKS, 1, Buffer.alloc(BLOCK_BYTES, 0x5a), false); // same-fill
    await engine.flush();
  }, 60_000);

  afterAll(async () => {
    expect(tables.closeProbes()).toBe(true);
    await engine.close();
    ring.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves committed blocks, in the pool file or still in RAM, with the bytes the JS path reads', async () => {
    let served = 0;
    for (let lba = 0; lba < RANDOM_BLOCKS; lba++) {
      const loc = tables.lookup(lba);
      const { r, out } = await probe(lba, 1);
      if (loc === undefined) {
        expect(r).toBe('js');
        continue;
      }
      expect(r).toBe(BLOCK_BYTES);
      expect(out.equals(await jsRead(engine, lba, 1))).toBe(true);
      served += 1;
    }
    expect(served).toBe(RANDOM_BLOCKS);
  });

  it('reads multi-block ranges with adjacent fragments in one read and matches readBlocks', async () => {
    let served = 0;
    for (let lba = 0; lba + 32 <= RANDOM_BLOCKS / 2; lba += 32) {
      const { r, out } = await probe(lba, 32);
      if (r === 'js') continue;
      expect(r).toBe(32 * BLOCK_BYTES);
      expect(out.equals(await jsRead(engine, lba, 32))).toBe(true);
      served += 1;
    }
    expect(served).toBeGreaterThan(0);
  });

  it('reads never-written and discarded blocks as zeros natively', async () => {
    expect(tables.unmapped(LOGICAL_BLOCKS - 1)).toBe(true);
    const never = await probe(LOGICAL_BLOCKS - 8, 8);
    expect(never.r).toBe(8 * BLOCK_BYTES);
    expect(never.out.equals(Buffer.alloc(8 * BLOCK_BYTES))).toBe(true);
    // A discarded block inside a range of stored ones: zeros there, the rest decoded.
    let lba = 64;
    while (tables.lookup(lba) === undefined || tables.lookup(lba + 2) === undefined) lba += 4;
    await engine.discard(lba + 1, 1);
    expect(tables.unmapped(lba + 1)).toBe(true);
    const mixed = await probe(lba, 3);
    expect(mixed.r).toBe(3 * BLOCK_BYTES);
    expect(mixed.out.equals(await jsRead(engine, lba, 3))).toBe(true);
    expect(mixed.out.subarray(BLOCK_BYTES, 2 * BLOCK_BYTES).equals(Buffer.alloc(BLOCK_BYTES))).toBe(true);
  });

  it('hands same-fill blocks to JS; copies blocks of the open segment from its RAM copy', async () => {
    expect((await probe(RANDOM_BLOCKS, 1)).r).toBe('js'); // same-fill: JS expands it
    const last = RANDOM_BLOCKS - 1; // in the open segment, still in RAM
    const open = (engine as unknown as { core: { writer: { openSegment?: number } } }).core.writer.openSegment;
    expect(tables.lookup(last)?.segment).toBe(open);
    const { r, out } = await probe(last - 3, 4);
    expect(r).toBe(4 * BLOCK_BYTES);
    expect(out.equals(await jsRead(engine, last - 3, 4))).toBe(true);
  });

  it('reuses a tag as a device does: a block copied from RAM, then read from the pool once its segment is out', async () => {
    // One path serves every probe and back-to-back reads take tag 0, so the second read
    // runs on the state the first left in that tag (a RAM copy pointer into a segment
    // buffer the engine recycles once the segment is written out).
    const core = (engine as unknown as { core: { writer: { openSegment?: number } } }).core;
    const lba = LOGICAL_BLOCKS - 64;
    const data = crypto.randomBytes(BLOCK_BYTES);
    await engine.write(lba, 1, data, false);
    await engine.flush();
    const segment = tables.lookup(lba)?.segment;
    expect(segment).toBe(core.writer.openSegment); // still in RAM
    const first = await probe(lba, 1);
    expect(first.r).toBe(BLOCK_BYTES);
    expect(first.out.equals(data)).toBe(true);
    // Fill the segment and the next: it is sealed, written out, and its buffer reused.
    for (let k = 0; k < 2 * (SEGMENT_BYTES / BLOCK_BYTES); k += 16) {
      const lbaK = LOGICAL_BLOCKS - 2048 + k;
      await engine.write(lbaK, 16, crypto.randomBytes(16 * BLOCK_BYTES), false);
    }
    await engine.flush();
    expect(tables.lookup(lba)?.segment).toBe(segment);
    expect(core.writer.openSegment).not.toBe(segment);
    const second = await probe(lba, 1);
    expect(second.r).toBe(BLOCK_BYTES);
    expect(second.out.equals(data)).toBe(true);
  });

  it('forgets a block the moment it is overwritten, and serves the new bytes once committed', async () => {
    const lba = 3;
    expect(tables.lookup(lba)).toBeDefined();
    const fresh = crypto.randomBytes(BLOCK_BYTES);
    await engine.write(lba, 1, fresh, false);
    expect(tables.lookup(lba)).toBeUndefined();
    expect((await probe(lba, 1)).r).toBe('js');
    // Push the new fragment's segment out of RAM, commit, and read it natively.
    for (let k = 0; k < 128; k += 16) {
      await engine.write(1024 + k, 16, crypto.randomBytes(16 * BLOCK_BYTES), false);
    }
    await engine.flush();
    const { r, out } = await probe(lba, 1);
    expect(r).toBe(BLOCK_BYTES);
    expect(out.equals(fresh)).toBe(true);
  });

  it('never returns the bytes of a damaged fragment: the JS path reports it', async () => {
    const lba = 101; // random data, never read through the JS path's read cache before
    const loc = tables.lookup(lba);
    expect(loc).toBeDefined();
    const at = g.dataOffset + loc!.segment * g.segmentBytes + loc!.offset + 16 + 100;
    const fd = fs.openSync(backingPath, 'r+');
    try {
      const b = Buffer.alloc(1);
      fs.readSync(fd, b, 0, 1, at);
      b[0] ^= 0xff;
      fs.writeSync(fd, b, 0, 1, at);
    } finally {
      fs.closeSync(fd);
    }
    const { r, out } = await probe(lba, 1);
    expect(r).toBe('js');
    expect(out.equals(Buffer.alloc(BLOCK_BYTES))).toBe(true); // zeroed, never the damaged decode
    await expect(jsRead(engine, lba, 1)).rejects.toMatchObject({ code: 'UC_POOL_CORRUPT' });
  });

  it('a read the guard waits for: drain() resolves only once every native read started before it ended', async () => {
    const seq = tables.handle.beginForTest();
    const guard = (engine as unknown as { core: { guard: { drain(): Promise<void> } } }).core.guard;
    let drained = false;
    const d = guard.drain().then(() => {
      drained = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(drained).toBe(false);
    const later = tables.handle.beginForTest(); // started after the barrier: not waited for
    tables.handle.endForTest(seq);
    await d;
    expect(drained).toBe(true);
    tables.handle.endForTest(later);
    expect(tables.inflight()).toBe(0);
  });
});
