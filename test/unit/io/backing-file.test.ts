// src/io's BackingFile on a real io_uring and over node:fs: exact-length
// reads and writes (zeros past the end), dsync, fallocate, hole punching,
// growth, and errors as UcError with errno and context.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isNoSpace } from '../../../src/util/errno.js';
import {
  FALLOC_FL_KEEP_SIZE, FALLOC_FL_ZERO_RANGE, openBackingFile, backingOpener, type BackingFile, type OpenBackingOptions,
} from '../../../src/io/index.js';
import { IoRing } from '../../../src/native/index.js';
import { EBADF, ENOENT, ENOSPC, EOPNOTSUPP } from '../../../src/util/errno.js';
import { UcError } from '../../../src/util/errors.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uc-io-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function pattern(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 1) b[i] = (i * 131 + seed * 7 + 1) & 0xff;
  return b;
}

function fresh(options: OpenBackingOptions & { sizeBytes: number }): Promise<BackingFile> {
  return openBackingFile(fs.mkdtempSync(path.join(dir, 'f-')) + '/file', { create: true, ...options });
}

async function rejection(p: Promise<unknown>): Promise<UcError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(UcError);
  return err as UcError;
}

for (const transport of ['ring', 'node'] as const) {
  describe(`BackingFile over ${transport}`, () => {
    it('reads and writes exact lengths at byte offsets; past the end reads zeros', async () => {
      const f = await fresh({ transport, sizeBytes: 1 << 20 });
      expect(f.sizeBytes).toBe(1 << 20);
      expect(f.isBlockDevice).toBe(false);
      const data = pattern(10000, 1);
      await f.pwrite(data, 0, data.length, 12345);
      const out = Buffer.alloc(10002, 0xee);
      await f.pread(out, 1, 10000, 12345);
      expect(out.subarray(1, 10001).equals(data)).toBe(true);
      expect(out[0]).toBe(0xee);
      expect(out[10001]).toBe(0xee);
      // A read straddling the end: the file's bytes, then zeros.
      await f.pwrite(data, 0, 100, (1 << 20) - 100);
      out.fill(0xee);
      await f.pread(out, 0, 300, (1 << 20) - 100);
      expect(out.subarray(0, 100).equals(data.subarray(0, 100))).toBe(true);
      expect(out.subarray(100, 300).every((b) => b === 0)).toBe(true);
      // One read() is short at the end of file.
      expect(await f.read(Buffer.alloc(300), (1 << 20) - 100)).toBe(100);
      expect(await f.read(Buffer.alloc(300), 2 << 20)).toBe(0);
      await f.fdatasync();
      expect(fs.readFileSync(f.path).subarray(12345, 22345).equals(data)).toBe(true);
      await f.close();
      expect(f.fd).toBe(-1);
    });

    it('close() waits for operations in flight, which complete', async () => {
      const f = await fresh({ transport, sizeBytes: 1 << 20 });
      await f.pwrite(pattern(1 << 20, 4), 0, 1 << 20, 0);
      const bufs = Array.from({ length: 64 }, () => Buffer.alloc(4096));
      const reads = bufs.map((b, i) => f.pread(b, 0, 4096, i * 8192));
      const sync = f.fdatasync();
      await f.close();
      await Promise.all([...reads, sync]);
      const want = pattern(1 << 20, 4);
      bufs.forEach((b, i) => expect(b.equals(want.subarray(i * 8192, i * 8192 + 4096))).toBe(true));
      expect(f.fd).toBe(-1);
    });

    it('grows a file and never shrinks it', async () => {
      const f = await fresh({ transport, sizeBytes: 4096 });
      await f.grow(1 << 16);
      expect(f.sizeBytes).toBe(1 << 16);
      expect(fs.statSync(f.path).size).toBe(1 << 16);
      await f.grow(4096);
      expect(fs.statSync(f.path).size).toBe(1 << 16);
      await f.close();
    });

    it('reports failures as UC_IO with errno and what was attempted', async () => {
      const missing = await rejection(openBackingFile(path.join(dir, 'missing'), { transport }));
      expect(missing.code).toBe('UC_IO');
      expect(missing.errno).toBe(ENOENT);
      expect(missing.message).toContain(path.join(dir, 'missing'));
      const p = path.join(dir, `ro-${transport}`);
      fs.writeFileSync(p, Buffer.alloc(8192));
      const ro = await openBackingFile(p, { transport, readOnly: true });
      const err = await rejection(ro.pwrite(Buffer.alloc(4096), 0, 4096, 4096));
      expect(err.code).toBe('UC_IO');
      expect(err.errno).toBe(EBADF);
      expect(err.message).toMatch(new RegExp(`pwrite 4096 bytes at 4096 of ${p}`));
      await ro.close();
    });

    it('ENOSPC keeps its errno, so the engine classifies it as no space', async () => {
      const full = await openBackingFile('/dev/full', { transport });
      const err = await rejection(full.pwrite(Buffer.alloc(4096), 0, 4096, 0));
      expect(err.errno).toBe(ENOSPC);
      expect(isNoSpace(err)).toBe(true);
      await full.close();
    });
  });
}

describe('BackingFile over the ring', () => {
  it('punches holes: zeros read back and the blocks are released', async () => {
    const f = await fresh({ sizeBytes: 1 << 20 });
    await f.pwrite(pattern(1 << 20, 2), 0, 1 << 20, 0);
    await f.fdatasync();
    const before = fs.statSync(f.path).blocks;
    await f.punchHole(256 * 1024, 512 * 1024);
    const out = Buffer.alloc(512 * 1024, 0xee);
    await f.pread(out, 0, out.length, 256 * 1024);
    expect(out.every((b) => b === 0)).toBe(true);
    expect(fs.statSync(f.path).blocks).toBeLessThanOrEqual(before - (512 * 1024) / 512);
    expect(fs.statSync(f.path).size).toBe(1 << 20);
    await f.close();
  });

  it('zero-ranges with fallocate and writes durably with dsync', async () => {
    const f = await fresh({ sizeBytes: 1 << 16 });
    expect(f.supportsDsync).toBe(true);
    const data = pattern(1 << 16, 3);
    expect(await f.write(data, 0, true)).toBe(data.length);
    await f.fallocate(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 4096, 8192);
    const back = fs.readFileSync(f.path);
    expect(back.subarray(0, 4096).equals(data.subarray(0, 4096))).toBe(true);
    expect(back.subarray(4096, 12288).every((b) => b === 0)).toBe(true);
    expect(back.subarray(12288).equals(data.subarray(12288))).toBe(true);
    await f.close();
  });

  it('runs on a shared ring and leaves it open at close', async () => {
    const ring = new IoRing({ entries: 64 });
    try {
      const open = backingOpener(ring);
      const p = path.join(dir, 'shared');
      const f = await open(p, { create: true, sizeBytes: 1 << 20 });
      const writes = Array.from({ length: 256 }, (_, i) => f.pwrite(pattern(4096, i), 0, 4096, i * 4096));
      expect(ring.inflight).toBeGreaterThan(0); // the file's I/O is on this ring
      await Promise.all(writes);
      const out = Buffer.alloc(4096);
      await f.pread(out, 0, 4096, 200 * 4096);
      expect(out.equals(pattern(4096, 200))).toBe(true);
      await f.close();
      expect(ring.closed).toBe(false);
    } finally {
      ring.close();
    }
  });
});

describe('BackingFile over node:fs', () => {
  it('offers neither dsync writes nor fallocate (EOPNOTSUPP), so callers fall back', async () => {
    const f = await fresh({ transport: 'node', sizeBytes: 1 << 16 });
    expect(f.supportsDsync).toBe(false);
    expect((await rejection(f.write(Buffer.alloc(4096), 0, true))).errno).toBe(EOPNOTSUPP);
    expect((await rejection(f.punchHole(0, 4096))).errno).toBe(EOPNOTSUPP);
    await f.close();
  });
});
