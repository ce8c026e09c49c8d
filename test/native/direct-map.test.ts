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
});
