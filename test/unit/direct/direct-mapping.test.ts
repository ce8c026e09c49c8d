import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIEMAP_EXTENT } from '../../../src/native/index.js';
import { unwrittenRanges } from '../../../src/direct/preallocate.js';
import { openRawDevice } from '../../../src/direct/raw-device.js';
import { isMemoryFile } from '../../../src/io/index.js';
import { otherOpeners } from '../../../src/direct/direct-mapping.js';

const MiB = 1024 * 1024;
const ext = (logicalBytes: number, lengthBytes: number, flags = 0) => ({ logicalBytes, physicalBytes: 1 << 30, lengthBytes, flags });

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'uc-dmapping-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('unwrittenRanges', () => {
  it('lists holes and unwritten extents below the size, merged', () => {
    const extents = [ext(MiB, MiB), ext(2 * MiB, MiB, FIEMAP_EXTENT.UNWRITTEN), ext(4 * MiB, MiB, FIEMAP_EXTENT.SHARED)];
    expect(unwrittenRanges(extents, 6 * MiB)).toEqual([
      { offsetBytes: 0, lengthBytes: MiB },
      { offsetBytes: 2 * MiB, lengthBytes: 2 * MiB }, // unwritten + the hole after it
      { offsetBytes: 5 * MiB, lengthBytes: MiB },
    ]);
    expect(unwrittenRanges([], 3 * MiB)).toEqual([{ offsetBytes: 0, lengthBytes: 3 * MiB }]);
    expect(unwrittenRanges([ext(0, 8 * MiB, FIEMAP_EXTENT.UNWRITTEN)], 2 * MiB)).toEqual([{ offsetBytes: 0, lengthBytes: 2 * MiB }]);
  });
});

describe('raw device lookup', () => {
  it('takes a file in /dev/shm for memory, never a block device node in devtmpfs', () => {
    const f = join('/dev/shm', `uc-dmem-${process.pid}`);
    writeFileSync(f, 'x');
    try {
      expect(isMemoryFile(f)).toBe(true);
    } finally {
      rmSync(f);
    }
    const node = readdirSync('/dev').map((n) => join('/dev', n)).find((p) => statSync(p).isBlockDevice());
    if (node === undefined) throw new Error('this test needs a block device node in /dev (loop0 will do)');
    expect(statfsSync(node).type).toBe(statfsSync('/dev/shm').type); // devtmpfs answers tmpfs's magic
    expect(isMemoryFile(node)).toBe(false);
  });

  it('refuses a file in memory with the reason', () => {
    const f = join('/dev/shm', `uc-dmapping-${process.pid}`);
    writeFileSync(f, 'x');
    try {
      const r = openRawDevice(f);
      expect('reason' in r && r.reason).toMatch(/not ext2\/3\/4 or xfs/);
    } finally {
      rmSync(f);
    }
    expect(openRawDevice(dir)).toEqual({ reason: 'the backing is not a regular file' });
  });

  it('finds other processes holding the file open, not this one', async () => {
    const f = join(dir, 'held');
    writeFileSync(f, 'x');
    const fd = openSync(f, 'r');
    try {
      expect(otherOpeners(f)).toEqual([]);
      const child = spawn('sleep', ['30'], { stdio: [fd, 'ignore', 'ignore'] });
      try {
        await new Promise((r) => child.once('spawn', r));
        expect(otherOpeners(f)).toEqual([child.pid]);
      } finally {
        child.kill();
      }
    } finally {
      closeSync(fd);
    }
  });
});
