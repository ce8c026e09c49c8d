// The 1:1 target against a real temp file, through both file back ends:
// node:fs (no fallocate: zero-fill fallback) and the native io_uring
// (RWF_DSYNC, punch hole, zero range). Block allocation is read from
// stat.blocks, so "discard releases space" is checked on the real filesystem.
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { BlockTarget } from '../../../src/device/target.js';
import type { DirectFile } from '../../../src/direct/direct-file.js';
import { DirectTarget } from '../../../src/direct/direct-target.js';
import { openBackingFile } from '../../../src/io/index.js';
import { IoRing } from '../../../src/native/index.js';
import { UcError, toErrno } from '../../../src/util/errors.js';

const BLOCK = 4096;
const SIZE = 4 * 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'ublk-direct-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pattern(blocks: number, seed: number): Buffer {
  const buf = Buffer.alloc(blocks * BLOCK);
  for (let i = 0; i < buf.length; i += 4) buf.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  return buf;
}

function allocatedBytes(path: string): number {
  return statSync(path).blocks * 512;
}

type Backend = { name: string; open(path: string): Promise<DirectFile>; punches: boolean };
let ring: IoRing | undefined;
const backends: Backend[] = [
  { name: 'node:fs', open: (p) => openBackingFile(p, { transport: 'node' }), punches: false },
  {
    name: 'io_uring',
    open: async (p) => {
      ring ??= new IoRing({ entries: 64 });
      return openBackingFile(p, { ring });
    },
    punches: true,
  },
];

describe.each(backends)('DirectTarget over $name', (backend) => {
  let path: string;
  let target: DirectTarget;
  let n = 0;

  beforeEach(async () => {
    n += 1;
    path = join(dir, `${backend.name.replace(/\W/g, '')}-${n}.img`);
    writeFileSync(path, '');
    const fd = openSync(path, 'r+');
    (await import('node:fs')).ftruncateSync(fd, SIZE);
    (await import('node:fs')).closeSync(fd);
    target = new DirectTarget(await backend.open(path), SIZE);
  });

  it('has the BlockTarget shape', async () => {
    const asTarget: BlockTarget = target;
    expect(typeof asTarget.read).toBe('function');
    await target.close();
  });

  it('reads zeros from a fresh sparse file and maps LBA n to byte n*4096', async () => {
    const buf = Buffer.alloc(2 * BLOCK, 0xaa);
    await target.read(10, 2, buf);
    expect(buf.every((b) => b === 0)).toBe(true);
    const data = pattern(3, 7);
    await target.write(5, 3, data, false);
    await target.close();
    const file = readFileSync(path);
    expect(file.length).toBe(SIZE);
    expect(file.subarray(5 * BLOCK, 8 * BLOCK).equals(data)).toBe(true);
    expect(file.subarray(0, 5 * BLOCK).every((b) => b === 0)).toBe(true);
  });

  it('round-trips writes, with and without fua, and flushes', async () => {
    const a = pattern(4, 1);
    const b = pattern(1, 2);
    await target.write(100, 4, a, false);
    await target.write(102, 1, b, true);
    await target.flush();
    const out = Buffer.alloc(4 * BLOCK);
    await target.read(100, 4, out);
    const expected = Buffer.concat([a.subarray(0, 2 * BLOCK), b, a.subarray(3 * BLOCK)]);
    expect(out.equals(expected)).toBe(true);
    await target.close();
  });

  it('discard makes the range read zeros and, with fallocate, releases its blocks', async () => {
    const blocks = 256; // 1 MiB
    await target.write(0, blocks, pattern(blocks, 3), false);
    await target.flush();
    const before = allocatedBytes(path);
    expect(before).toBeGreaterThanOrEqual(blocks * BLOCK);
    await target.discard(64, 128);
    const out = Buffer.alloc(blocks * BLOCK);
    await target.read(0, blocks, out);
    const ref = pattern(blocks, 3);
    expect(out.subarray(0, 64 * BLOCK).equals(ref.subarray(0, 64 * BLOCK))).toBe(true);
    expect(out.subarray(64 * BLOCK, 192 * BLOCK).every((x) => x === 0)).toBe(true);
    expect(out.subarray(192 * BLOCK).equals(ref.subarray(192 * BLOCK))).toBe(true);
    await target.close();
    const after = allocatedBytes(path);
    if (backend.punches) {
      expect(before - after).toBeGreaterThanOrEqual(128 * BLOCK);
      expect(target.stats.punchFallbacks).toBe(0);
    } else {
      expect(target.stats.punchFallbacks).toBe(1);
    }
    expect(statSync(path).size).toBe(SIZE); // KEEP_SIZE: never truncated
  });

  it('writeZeroes zeroes the range; with noUnmap the blocks stay allocated', async () => {
    await target.write(0, 64, pattern(64, 4), false);
    await target.flush();
    const before = allocatedBytes(path);
    await target.writeZeroes(8, 16, true);
    const mid = allocatedBytes(path);
    expect(mid).toBeGreaterThanOrEqual(before); // ZERO_RANGE keeps the space
    await target.writeZeroes(32, 16, false);
    const out = Buffer.alloc(64 * BLOCK);
    await target.read(0, 64, out);
    const ref = pattern(64, 4);
    ref.fill(0, 8 * BLOCK, 24 * BLOCK);
    ref.fill(0, 32 * BLOCK, 48 * BLOCK);
    expect(out.equals(ref)).toBe(true);
    await target.close();
    if (backend.punches) expect(before - allocatedBytes(path)).toBeGreaterThanOrEqual(16 * BLOCK);
  });

  it('operations are idempotent (replayed after a recovery)', async () => {
    const data = pattern(2, 9);
    await target.write(7, 2, data, true);
    await target.write(7, 2, data, true);
    await target.discard(20, 4);
    await target.discard(20, 4);
    await target.writeZeroes(30, 2, true);
    await target.writeZeroes(30, 2, true);
    const out = Buffer.alloc(2 * BLOCK);
    await target.read(7, 2, out);
    expect(out.equals(data)).toBe(true);
    await target.close();
  });

  it('rejects a range past the end with EINVAL and refuses work after close', async () => {
    const buf = Buffer.alloc(BLOCK);
    const err = await target.read(SIZE / BLOCK, 1, buf).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UcError);
    expect(toErrno(err)).toBe(-22);
    await target.read(SIZE / BLOCK - 1, 1, buf); // the last block is fine
    await target.close();
    const closed = await target.read(0, 1, buf).catch((e: unknown) => e);
    expect(toErrno(closed)).toBe(-19);
  });

  it('close waits for in-flight operations', async () => {
    const writes = [];
    for (let i = 0; i < 32; i += 1) writes.push(target.write(i * 8, 8, pattern(8, i), false));
    await target.close();
    await Promise.all(writes);
    const file = readFileSync(path);
    for (let i = 0; i < 32; i += 1) {
      expect(file.subarray(i * 8 * BLOCK, (i + 1) * 8 * BLOCK).equals(pattern(8, i))).toBe(true);
    }
  });
});

afterAll(() => ring?.close());

describe('DirectTarget short transfers', () => {
  /** A file that moves at most one block per call, like a short read/write. */
  function choppy(inner: DirectFile): DirectFile {
    return {
      supportsDsync: false,
      read: (buf, off) => inner.read(buf.subarray(0, Math.min(buf.length, BLOCK)), off),
      write: (buf, off, dsync) => inner.write(buf.subarray(0, Math.min(buf.length, BLOCK)), off, dsync),
      fdatasync: () => inner.fdatasync(),
      fallocate: (m, o, l) => inner.fallocate(m, o, l),
      close: () => inner.close(),
    };
  }

  it('loops over short reads and writes, and reads zeros past a shrunken file', async () => {
    const path = join(dir, 'choppy.img');
    writeFileSync(path, Buffer.alloc(SIZE));
    const target = new DirectTarget(choppy(await openBackingFile(path, { transport: 'node' })), SIZE);
    const data = pattern(16, 5);
    await target.write(3, 16, data, true);
    const out = Buffer.alloc(16 * BLOCK);
    await target.read(3, 16, out);
    expect(out.equals(data)).toBe(true);
    (await import('node:fs')).truncateSync(path, 10 * BLOCK); // shrinks under the target
    out.fill(0xee);
    await target.read(3, 16, out);
    expect(out.subarray(0, 7 * BLOCK).equals(data.subarray(0, 7 * BLOCK))).toBe(true);
    expect(out.subarray(7 * BLOCK).every((b) => b === 0)).toBe(true);
    out.fill(0xee);
    await target.read(20, 4, out);
    expect(out.subarray(0, 4 * BLOCK).every((b) => b === 0)).toBe(true);
    await target.close();
  });
});
