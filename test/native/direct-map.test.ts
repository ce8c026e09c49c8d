// The direct-mapped path's extent map on a real file (the host's tmpdir
// filesystem must support FIEMAP, as for fiemap.test.ts): remap() maps
// written data only, never holes or unwritten extents. No queue uses the map
// here, so its device descriptor (/dev/null) is never read or written; the
// raw I/O itself is tested in the guest (test/e2e/direct-fiemap-guest).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeSync, fdatasyncSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectMap, IoRing } from '../../src/native/index.js';

const MiB = 1024 * 1024;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'uc-dmap-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('DirectMap', () => {
  it('maps written extents, not holes or unwritten (fallocated) ones', async () => {
    const fd = openSync(join(dir, 'f'), 'w+');
    const devFd = openSync('/dev/null', 'r');
    const ring = new IoRing({ entries: 8 });
    try {
      ftruncateSync(fd, 8 * MiB);
      writeSync(fd, Buffer.alloc(MiB, 1), 0, MiB, 0); // written
      await ring.fallocate(fd, 0, 2 * MiB, MiB); // unwritten
      writeSync(fd, Buffer.alloc(MiB, 2), 0, MiB, 4 * MiB); // written; the rest is holes
      const map = new DirectMap(fd, devFd, -1);
      expect(map.remap()).toBe(2 * MiB); // after fdatasync: no delayed extents left
      const s = map.stats();
      expect(s.extents).toBeGreaterThanOrEqual(1);
      expect(s.extents).toBeLessThanOrEqual(2);
      expect(s.rawInflight).toBe(0);
      map.clear();
      expect(map.stats().mappedBytes).toBe(0);
      fdatasyncSync(fd);
      expect(map.remap()).toBe(2 * MiB); // remap enables it again
    } finally {
      ring.close();
      closeSync(devFd);
      closeSync(fd);
    }
  });

  it('maps nothing of a sparse file and refuses bad descriptors', () => {
    const fd = openSync(join(dir, 's'), 'w+');
    try {
      ftruncateSync(fd, 4 * MiB);
      expect(new DirectMap(fd, fd, fd).remap()).toBe(0);
      expect(() => new DirectMap(-1, fd, -1)).toThrow(/fileFd/);
    } finally {
      closeSync(fd);
    }
  });

  it('serves on its own descriptors: the caller closing its fd leaves the map working', () => {
    const path = join(dir, 'd');
    const fd = openSync(path, 'w+');
    ftruncateSync(fd, 4 * MiB);
    writeSync(fd, Buffer.alloc(MiB, 3), 0, MiB, 0);
    const devFd = openSync('/dev/null', 'r');
    const map = new DirectMap(fd, devFd, -1);
    closeSync(fd);
    closeSync(devFd);
    // The numbers are free now; a new open may reuse them. The map still maps its own file.
    const other = openSync(join(dir, 'other'), 'w+');
    try {
      expect(map.remap()).toBe(MiB);
    } finally {
      closeSync(other);
    }
  });

  it('remapRange maps the range an online grow adds, and nothing of a cleared map', () => {
    const fd = openSync(join(dir, 'g'), 'w+');
    const devFd = openSync('/dev/null', 'r');
    try {
      ftruncateSync(fd, 2 * MiB);
      writeSync(fd, Buffer.alloc(MiB, 1), 0, MiB, 0);
      const map = new DirectMap(fd, devFd, -1);
      expect(map.remap()).toBe(MiB);
      ftruncateSync(fd, 6 * MiB); // the grow: a hole first, then written zeros (--preallocate)
      expect(map.remapRange(2 * MiB, 4 * MiB)).toBe(MiB);
      writeSync(fd, Buffer.alloc(2 * MiB), 0, 2 * MiB, 4 * MiB);
      expect(map.remapRange(2 * MiB, 4 * MiB)).toBe(3 * MiB); // written back by remapRange itself
      map.clear();
      expect(map.remapRange(2 * MiB, 4 * MiB)).toBe(0);
      expect(() => map.remapRange(-1, MiB)).toThrow(/offsetBytes/);
    } finally {
      closeSync(devFd);
      closeSync(fd);
    }
  });
});
