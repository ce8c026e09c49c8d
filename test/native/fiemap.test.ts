import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIEMAP_EXTENT, fiemap, type NativeError } from '../../src/native/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'uc-fiemap-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('fiemap', () => {
  it('maps a sparse file: extents where data was written, none for holes', () => {
    const fd = openSync(join(dir, 'sparse'), 'w+');
    try {
      ftruncateSync(fd, 8 * 1024 * 1024);
      writeSync(fd, Buffer.alloc(64 * 1024, 1), 0, 64 * 1024, 0);
      writeSync(fd, Buffer.alloc(64 * 1024, 2), 0, 64 * 1024, 4 * 1024 * 1024);
      const extents = fiemap(fd, { sync: true });
      expect(extents.length).toBeGreaterThanOrEqual(2);
      const covered = (off: number) => extents.some((e) => e.logicalBytes <= off && off < e.logicalBytes + e.lengthBytes);
      expect(covered(0)).toBe(true);
      expect(covered(4 * 1024 * 1024)).toBe(true);
      expect(covered(2 * 1024 * 1024)).toBe(false); // a hole
      for (const e of extents) {
        expect(e.lengthBytes).toBeGreaterThan(0);
        expect(Number.isSafeInteger(e.physicalBytes)).toBe(true);
      }
      expect(extents[extents.length - 1].flags & FIEMAP_EXTENT.LAST).toBe(FIEMAP_EXTENT.LAST);
      for (let i = 1; i < extents.length; i += 1) {
        expect(extents[i].logicalBytes).toBeGreaterThanOrEqual(extents[i - 1].logicalBytes + extents[i - 1].lengthBytes);
      }
    } finally {
      closeSync(fd);
    }
  });

  it('returns no extents for an empty file and errno for a bad fd', () => {
    const fd = openSync(join(dir, 'empty'), 'w+');
    try {
      expect(fiemap(fd)).toEqual([]);
    } finally {
      closeSync(fd);
    }
    let caught: NativeError | undefined;
    try {
      fiemap(987654);
    } catch (e) {
      caught = e as NativeError;
    }
    expect(caught?.errno).toBe(9);
    expect(caught?.message).toMatch(/FIEMAP/);
  });
});
