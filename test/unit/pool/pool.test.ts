// Superblock layout and validation, one conformance suite for the simulated disk and the ring-backed file,
// the simulated disk's crash model, and the segment allocator.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeSlot, encodeSlot, fragmentBytes, FORMAT_VERSION, newUuid, readFragmentHeader,
  readSuperblock, SegmentTable, SEG_FREEING, SLOT_BYTES, writeFragmentHeader, writeSuperblock,
  type PoolStore, type Superblock,
} from '../../../src/pool/index.js';
import { SimDisk } from '../../../src/testing/sim-disk.js';
import { openBackingFile } from '../../../src/io/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uc-pool-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function sb(): Superblock {
  return {
    version: FORMAT_VERSION, generation: 0, uuid: newUuid(), blockBytes: 4096, segmentBytes: 65536,
    logicalBytes: 1 << 20, dataOffset: 4096, segmentCount: 4, layout: 0, durableSeq: 0,
  };
}

const stores: Array<[string, (size: number) => Promise<PoolStore>]> = [
  ['SimDisk', async (size) => new SimDisk(size)],
  ['ring BackingFile', async (size) => openBackingFile(fs.mkdtempSync(path.join(dir, 'f-')) + '/pool', { create: true, sizeBytes: size })],
];

for (const [name, make] of stores) {
  describe(`${name} conformance`, () => {
    it('writes, reads, syncs, punches and grows', async () => {
      const s = await make(1 << 20);
      expect(s.sizeBytes).toBe(1 << 20);
      const data = Buffer.alloc(10000, 0x5a);
      await s.pwrite(data, 0, data.length, 12345);
      await s.fdatasync();
      const out = Buffer.alloc(10002);
      await s.pread(out, 1, 10000, 12345);
      expect(out.subarray(1, 10001).equals(data)).toBe(true);
      await s.punchHole(12288, 8192);
      await s.pread(out, 0, 8192, 12288);
      expect(out.subarray(0, 8192).every((b) => b === 0)).toBe(true);
      await s.grow(2 << 20);
      expect(s.sizeBytes).toBe(2 << 20);
      await s.pread(out, 0, 100, (2 << 20) - 50); // past the end reads zeros
      expect(out.subarray(0, 100).every((b) => b === 0)).toBe(true);
      await s.close();
    });
  });
}

describe('superblock', () => {
  it('round-trips and survives a torn copy', async () => {
    const disk = new SimDisk(1 << 20);
    const written = await writeSuperblock(disk, sb());
    expect(written.generation).toBe(1);
    const next = await writeSuperblock(disk, { ...written, logicalBytes: 2 << 20 });
    // Tear the second copy: the first (newest, same generation) still wins.
    await disk.pwrite(Buffer.alloc(512, 0xff), 0, 512, SLOT_BYTES + 512);
    const got = await readSuperblock(disk);
    expect(got.logicalBytes).toBe(2 << 20);
    expect(got.generation).toBe(next.generation);
    expect(got.uuid.equals(written.uuid)).toBe(true);
  });
  it('names foreign, newer, truncated and damaged pools', async () => {
    const foreign = new SimDisk(1 << 20);
    await foreign.pwrite(Buffer.from('hello, filesystem'), 0, 17, 0);
    await expect(readSuperblock(foreign)).rejects.toMatchObject({ code: 'UC_POOL_FOREIGN' });
    const newer = new SimDisk(1 << 20);
    const slot = encodeSlot({ ...sb(), version: FORMAT_VERSION + 1 });
    await newer.pwrite(slot, 0, SLOT_BYTES, 0);
    await expect(readSuperblock(newer)).rejects.toMatchObject({ code: 'UC_POOL_VERSION' });
    const short = new SimDisk(4096 + 65536);
    await writeSuperblock(short, sb());
    await expect(readSuperblock(short)).rejects.toMatchObject({ code: 'UC_POOL_TRUNCATED' });
    const bad = new SimDisk(1 << 20);
    await writeSuperblock(bad, sb());
    await bad.pwrite(Buffer.alloc(8, 1), 0, 8, 40);
    await bad.pwrite(Buffer.alloc(8, 1), 0, 8, SLOT_BYTES + 40);
    await expect(readSuperblock(bad)).rejects.toMatchObject({ code: 'UC_POOL_CORRUPT' });
    expect(decodeSlot(Buffer.alloc(SLOT_BYTES)).kind).toBe('foreign');
  });
});

describe('SimDisk crash model', () => {
  it('keeps synced writes and drops, keeps or tears unsynced ones by sector', async () => {
    const disk = new SimDisk(8192);
    await disk.pwrite(Buffer.alloc(1024, 1), 0, 1024, 0);
    await disk.fdatasync();
    await disk.pwrite(Buffer.alloc(1024, 2), 0, 1024, 0);
    await disk.pwrite(Buffer.alloc(1024, 3), 0, 1024, 4096);
    let sector = 0;
    const after = disk.crash(() => 'tear', () => sector++ % 2 === 0);
    const out = Buffer.alloc(8192);
    await after.pread(out, 0, 8192, 0);
    expect(out[0]).toBe(2); // first sector of the torn write kept
    expect(out[512]).toBe(1); // second sector kept the synced content
    expect(out[4096]).toBe(3);
    expect(out[4608]).toBe(0);
    const dropped = after.crash(() => 'drop', () => true);
    await dropped.pread(out, 0, 8192, 0);
    expect(out[0]).toBe(2); // the crash image is durable in the next incarnation
  });
});

describe('fragments', () => {
  it('headers round-trip and sizes are 16-byte aligned', () => {
    const b = Buffer.alloc(64);
    writeFragmentHeader(b, 16, 1, 1234, 2 ** 41 + 3);
    expect(readFragmentHeader(b, 16)).toEqual({ codecId: 1, storedBytes: 1234, extentId: 2 ** 41 + 3 });
    expect(readFragmentHeader(b, 0)).toBeUndefined();
    expect(fragmentBytes(1)).toBe(32);
    expect(fragmentBytes(4096)).toBe(4112);
  });
});

describe('SegmentTable', () => {
  it('allocates lowest first and reuses freed segments only after makeReusable', () => {
    const t = new SegmentTable(4, 65536);
    t.finishLoad();
    expect(t.allocate()).toBe(0);
    t.setFill(0, 100);
    t.addLive(0, 100);
    t.seal(0);
    expect(t.allocate()).toBe(1);
    t.subLive(0, 100);
    t.release(0);
    expect(t.state[0]).toBe(SEG_FREEING);
    expect(t.record(0).state).toBe(0); // persisted as free
    expect(t.allocate()).toBe(2);
    t.makeReusable(0);
    expect(t.allocate()).toBe(0);
    expect(t.allocate()).toBe(3);
    expect(t.allocate()).toBeUndefined();
    t.grow(6);
    expect(t.allocate()).toBe(4);
    expect(() => t.addLive(4, 10)).toThrow(/exceed/);
  });
  it('lists compaction candidates emptiest first', () => {
    const t = new SegmentTable(3, 1000);
    t.finishLoad();
    for (const live of [400, 100, 900]) {
      const s = t.allocate()!;
      t.setFill(s, 1000);
      t.addLive(s, live);
      t.seal(s);
    }
    expect(t.candidates(0.5, 10)).toEqual([1, 0]);
  });
});
