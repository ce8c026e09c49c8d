// Backing-file I/O on a real io_uring (the host kernel has io_uring).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blkDiscard, blockDeviceBytes, IoRing, type NativeError } from '../../src/native/index.js';
import { ENOTTY, EOPNOTSUPP } from '../../src/util/errno.js';

let dir: string;
let ring: IoRing;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'uc-ring-'));
  ring = new IoRing({ entries: 64 });
});

afterEach(() => {
  if (!ring.closed) ring.close();
  rmSync(dir, { recursive: true, force: true });
});

function pattern(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 1) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

describe('IoRing', () => {
  it('writes, reads back and fdatasyncs a temp file', async () => {
    const fd = openSync(join(dir, 'f'), 'w+');
    try {
      const data = pattern(64 * 1024, 1);
      expect(await ring.write(fd, data, 4096)).toBe(data.length);
      await ring.fdatasync(fd);
      await ring.fsync(fd);
      const back = Buffer.alloc(data.length);
      expect(await ring.read(fd, back, 4096)).toBe(data.length);
      expect(back.equals(data)).toBe(true);
      // The bytes really are in the file, not just echoed by the ring.
      expect(readFileSync(join(dir, 'f')).subarray(4096).equals(data)).toBe(true);
      expect(ring.inflight).toBe(0);
    } finally {
      closeSync(fd);
    }
  });

  it('runs a batch of 2000 concurrent 4 KiB writes and reads', async () => {
    const fd = openSync(join(dir, 'f'), 'w+');
    try {
      const n = 2000; // more than SQ (64) and CQ (128) entries: exercises SQ-full and overflow paths
      await Promise.all(Array.from({ length: n }, (_, i) => ring.writeFully(fd, pattern(4096, i), i * 4096, { dsync: i % 100 === 0 })));
      const bufs = Array.from({ length: n }, () => Buffer.alloc(4096));
      await Promise.all(bufs.map((b, i) => ring.readFully(fd, b, i * 4096)));
      for (let i = 0; i < n; i += 1) expect(bufs[i].equals(pattern(4096, i))).toBe(true);
      expect(statSync(join(dir, 'f')).size).toBe(n * 4096);
    } finally {
      closeSync(fd);
    }
  });

  it('punches a hole that reads back as zeros and releases blocks', async () => {
    const file = join(dir, 'f');
    writeFileSync(file, pattern(1024 * 1024, 3));
    const fd = openSync(file, 'r+');
    try {
      await ring.fdatasync(fd);
      const before = statSync(file).blocks;
      await ring.punchHole(fd, 256 * 1024, 512 * 1024);
      const after = statSync(file).blocks;
      expect(after).toBeLessThan(before);
      expect(statSync(file).size).toBe(1024 * 1024);
      const back = Buffer.alloc(1024 * 1024);
      await ring.readFully(fd, back, 0);
      expect(back.subarray(256 * 1024, 768 * 1024).every((x) => x === 0)).toBe(true);
      expect(back.subarray(0, 256 * 1024).equals(pattern(1024 * 1024, 3).subarray(0, 256 * 1024))).toBe(true);
      await ring.zeroRange(fd, 0, 4096);
      await ring.readFully(fd, back, 0);
      expect(back.subarray(0, 4096).every((x) => x === 0)).toBe(true);
      expect(back[4096]).toBe(pattern(1024 * 1024, 3)[4096]);
    } finally {
      closeSync(fd);
    }
  });

  it('reads past end of file as short, readFully zero-fills', async () => {
    const file = join(dir, 'f');
    writeFileSync(file, Buffer.from('abc'));
    const fd = openSync(file, 'r');
    try {
      const b = Buffer.alloc(8, 0xff);
      expect(await ring.read(fd, b, 0)).toBe(3);
      await ring.readFully(fd, b, 0);
      expect([...b]).toEqual([97, 98, 99, 0, 0, 0, 0, 0]);
    } finally {
      closeSync(fd);
    }
  });

  it('rejects with errno and context: EBADF on a bad fd', async () => {
    const err = (await ring.read(987654, Buffer.alloc(4096), 0).catch((e: unknown) => e)) as NativeError;
    expect(err).toBeInstanceOf(Error);
    expect(err.errno).toBe(9);
    expect(err.code).toBe('EBADF');
    expect(err.message).toMatch(/read fd 987654 at 0/);
  });

  it('rejects a write to a read-only fd with EBADF and fallocate on a pipe-like fd', async () => {
    const file = join(dir, 'f');
    writeFileSync(file, 'x');
    const fd = openSync(file, 'r');
    try {
      const err = (await ring.write(fd, Buffer.from('y'), 0).catch((e: unknown) => e)) as NativeError;
      expect(err.errno).toBe(9);
      const dirFd = openSync(dir, 'r');
      try {
        const ferr = (await ring.fallocate(dirFd, 0, 0, 4096).catch((e: unknown) => e)) as NativeError;
        expect(ferr.errno).toBeGreaterThan(0);
        expect(ferr.message).toMatch(/fallocate/);
      } finally {
        closeSync(dirFd);
      }
    } finally {
      closeSync(fd);
    }
  });

  it('discard is for block devices only: EOPNOTSUPP on the ring, ENOTTY from the ioctls', async () => {
    const fd = openSync(join(dir, 'f'), 'w+');
    try {
      const err = (await ring.discard(fd, 0, 4096).catch((e: unknown) => e)) as NativeError;
      expect(err.errno).toBe(EOPNOTSUPP);
      expect(err.message).toMatch(new RegExp(`discard fd ${fd} at 0 \\(4096 bytes\\)`));
      expect(() => blkDiscard(fd, 0, 4096)).toThrow(expect.objectContaining({ errno: ENOTTY, message: expect.stringMatching(/BLKDISCARD/) }));
      expect(() => blockDeviceBytes(fd)).toThrow(expect.objectContaining({ errno: ENOTTY, message: expect.stringMatching(/BLKGETSIZE64/) }));
    } finally {
      closeSync(fd);
    }
  });

  it('refuses to close with operations in flight, closes once they are done', async () => {
    const fd = openSync(join(dir, 'f'), 'w+');
    try {
      const p = ring.write(fd, Buffer.alloc(4096, 1), 0);
      expect(() => ring.close()).toThrow(/in flight/);
      await p;
      ring.close();
      expect(ring.closed).toBe(true);
      expect(() => ring.read(fd, Buffer.alloc(1), 0)).toThrow(/closed/);
    } finally {
      closeSync(fd);
    }
  });

  it('refuses DEFER_TASKRUN (its eventfd fires before the CQE exists)', () => {
    expect(() => new IoRing({ flags: 1 << 13 })).toThrow(/DEFER_TASKRUN/);
  });
});
