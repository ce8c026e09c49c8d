// Opening refuses foreign, newer, truncated and mismatched pools without
// modifying them; resize grows and refuses silent shrinks; a full pool reports
// UC_NO_SPACE; close() waits for in-flight writes; compaction frees space.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { checkPool, formatEngine, formatPool, openEngine, openPool } from '../../../src/engine/index.js';
import { MemMetaStore } from '../../../src/testing/mem-store.js';
import { SimDisk } from '../../../src/testing/sim-disk.js';
import { BLOCK_BYTES } from '../../../src/util/units.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uc-life-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const SEG = 65536;
const quiet = { flushDelayMs: 0, backgroundCompaction: false };

function randomBlocks(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n * BLOCK_BYTES);
  let a = seed >>> 0; // mulberry32: incompressible, never repeats within a test
  for (let i = 0; i < b.length; i += 4) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    b.writeUInt32LE((t ^ (t >>> 14)) >>> 0, i);
  }
  return b;
}

function hashDir(d: string): string {
  return fs.readdirSync(d).sort().map((f) => `${f}:${fs.readFileSync(path.join(d, f)).toString('hex')}`).join('|');
}

describe('opening', () => {
  it('names each refused pool and modifies nothing', async () => {
    const backingPath = path.join(dir, 'a.img');
    const e = await formatPool({ backingPath, logicalBytes: 256 * BLOCK_BYTES, segmentBytes: SEG, ...quiet });
    await e.write(0, 4, randomBlocks(4, 1), true);
    await e.close();

    const foreign = path.join(dir, 'foreign.img');
    fs.writeFileSync(foreign, Buffer.alloc(1 << 20, 0x11));
    await expect(openPool({ backingPath: foreign, metaDir: `${backingPath}.meta` })).rejects.toMatchObject({ code: 'UC_POOL_FOREIGN' });
    expect(fs.readFileSync(foreign).every((b) => b === 0x11)).toBe(true);

    await expect(openPool({ backingPath, metaDir: path.join(dir, 'missing.meta') })).rejects.toMatchObject({ code: 'UC_META_MISSING' });
    expect(fs.existsSync(path.join(dir, 'missing.meta'))).toBe(false);

    const other = path.join(dir, 'b.img');
    await (await formatPool({ backingPath: other, logicalBytes: 256 * BLOCK_BYTES, segmentBytes: SEG, ...quiet })).close();
    const before = fs.readFileSync(backingPath);
    await expect(openPool({ backingPath, metaDir: `${other}.meta` })).rejects.toMatchObject({ code: 'UC_META_MISMATCH' });
    expect(fs.readFileSync(backingPath).equals(before)).toBe(true);

    const truncated = path.join(dir, 't.img');
    fs.copyFileSync(backingPath, truncated);
    fs.truncateSync(truncated, 4096 + SEG);
    await expect(openPool({ backingPath: truncated, metaDir: `${backingPath}.meta` })).rejects.toMatchObject({ code: 'UC_POOL_TRUNCATED' });

    const newer = path.join(dir, 'n.img');
    fs.copyFileSync(backingPath, newer);
    const fd = fs.openSync(newer, 'r+');
    for (const at of [0, 2048]) {
      // A newer build writes a valid copy (its CRC matches) with a higher version.
      const slot = Buffer.alloc(2048);
      fs.readSync(fd, slot, 0, 2048, at);
      slot.writeUInt32BE(9, 8);
      slot.writeUInt32BE(zlib.crc32(slot.subarray(0, 2044)), 2044);
      fs.writeSync(fd, slot, 0, 2048, at);
    }
    fs.closeSync(fd);
    await expect(openPool({ backingPath: newer, metaDir: `${backingPath}.meta` })).rejects.toMatchObject({ code: 'UC_POOL_VERSION' });

    await expect(formatPool({ backingPath, logicalBytes: 256 * BLOCK_BYTES })).rejects.toMatchObject({ code: 'UC_INVALID_ARGUMENT' });
    const metaBefore = hashDir(`${backingPath}.meta`);
    const again = await openPool({ backingPath, ...quiet });
    const out = Buffer.alloc(4 * BLOCK_BYTES);
    await again.read(0, 4, out);
    expect(out.equals(randomBlocks(4, 1))).toBe(true);
    await again.close();
    expect(metaBefore.length).toBeGreaterThan(0);
  });
});

describe('resize', () => {
  it('grows, refuses silent shrinks, and shrinks only over empty blocks', async () => {
    const backingPath = path.join(dir, 'r.img');
    let e = await formatPool({ backingPath, logicalBytes: 64 * BLOCK_BYTES, segmentBytes: SEG, ...quiet });
    await e.write(60, 2, randomBlocks(2, 5), false);
    await e.resize(1024 * BLOCK_BYTES);
    expect(e.logicalBlocks).toBe(1024);
    await e.write(1000, 3, randomBlocks(3, 6), false);
    await expect(e.resize(512 * BLOCK_BYTES)).rejects.toMatchObject({ code: 'UC_INVALID_ARGUMENT' });
    await expect(e.resize(512 * BLOCK_BYTES, { allowShrink: true })).rejects.toThrow(/beyond the new size/);
    await e.discard(1000, 3);
    await e.resize(512 * BLOCK_BYTES, { allowShrink: true });
    await expect(e.write(600, 1, randomBlocks(1, 1), false)).rejects.toMatchObject({ code: 'UC_INVALID_ARGUMENT' });
    await e.close();
    e = await openPool({ backingPath, ...quiet });
    expect(e.logicalBlocks).toBe(512);
    const out = Buffer.alloc(2 * BLOCK_BYTES);
    await e.read(60, 2, out);
    expect(out.equals(randomBlocks(2, 5))).toBe(true);
    await e.close();
    expect((await checkPool({ backingPath })).clean).toBe(true);
  });
});

describe('space', () => {
  it('reports UC_NO_SPACE on a full pool and recovers space after discard', async () => {
    const disk = new SimDisk(4096 + 8 * SEG);
    const meta = new MemMetaStore();
    const e = await formatEngine(disk, meta, { logicalBytes: 1024 * BLOCK_BYTES, segmentBytes: SEG, ...quiet });
    let written = 0;
    let error: unknown;
    for (; written < 1024; written += 8) {
      try {
        await e.write(written, 8, randomBlocks(8, written), false);
      } catch (err) {
        error = err;
        break;
      }
    }
    expect(error).toMatchObject({ code: 'UC_NO_SPACE' });
    await e.discard(0, written);
    await e.write(0, 8, randomBlocks(8, 99), false); // space came back via commit + compaction
    const out = Buffer.alloc(8 * BLOCK_BYTES);
    await e.read(0, 8, out);
    expect(out.equals(randomBlocks(8, 99))).toBe(true);
    await e.close();
  });

  it('compaction copies live fragments and punches the freed segments of a file', async () => {
    const backingPath = path.join(dir, 'c.img');
    const e = await formatPool({ backingPath, logicalBytes: 2048 * BLOCK_BYTES, segmentBytes: SEG, ...quiet });
    const data = randomBlocks(1024, 7);
    await e.write(0, 1024, data, false);
    await e.flush();
    for (let lba = 0; lba < 1024; lba += 4) await e.discard(lba, 3); // 75% garbage everywhere
    await e.flush();
    const allocatedBefore = fs.statSync(backingPath).blocks;
    const progress = await e.compact({ liveFraction: 0.5 });
    expect(progress.segmentsCleaned).toBeGreaterThan(10);
    expect(progress.bytesMoved).toBeGreaterThan(0);
    expect(progress.candidates).toBe(0);
    const allocatedAfter = fs.statSync(backingPath).blocks;
    expect(allocatedAfter).toBeLessThan(allocatedBefore * 0.6);
    const out = Buffer.alloc(BLOCK_BYTES);
    for (let lba = 3; lba < 1024; lba += 4) {
      await e.read(lba, 1, out);
      expect(out.equals(data.subarray(lba * BLOCK_BYTES, (lba + 1) * BLOCK_BYTES))).toBe(true);
    }
    await e.close();
    expect((await checkPool({ backingPath })).problems).toEqual([]);
  });
});

describe('close', () => {
  it('waits for in-flight writes and makes them durable', async () => {
    const disk = new SimDisk(4096 + 32 * SEG);
    const meta = new MemMetaStore();
    const e = await formatEngine(disk, meta, { logicalBytes: 512 * BLOCK_BYTES, segmentBytes: SEG, ...quiet });
    const data = randomBlocks(64, 3);
    const writes = [e.write(0, 32, data.subarray(0, 32 * BLOCK_BYTES), false), e.write(32, 32, data.subarray(32 * BLOCK_BYTES), false)];
    await e.close();
    await Promise.all(writes);
    await expect(e.write(0, 1, data, false)).rejects.toMatchObject({ code: 'UC_INVALID_ARGUMENT' });
    const after = disk.crash(() => 'drop', () => false);
    const e2 = await openEngine(after, meta.crash(0), quiet);
    const out = Buffer.alloc(64 * BLOCK_BYTES);
    await e2.read(0, 64, out);
    expect(out.equals(data)).toBe(true);
    await e2.close();
  });
});
