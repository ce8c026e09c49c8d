// The journal's files: on tmpfs a record is written inline (it is in the file
// when pwrite returns, before any await), elsewhere on the ring; both read back
// what was written, and ftruncate empties them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { journalPaths, openJournalFiles } from '../../src/engine/journal-files.js';
import { backingOpener } from '../../src/io/index.js';
import { IoRing } from '../../src/native/index.js';

const dirs: string[] = [];
const ring = new IoRing({ entries: 8 });
afterAll(() => {
  ring.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function dirOn(base: string): string {
  const d = fs.mkdtempSync(path.join(base, 'uc-jfiles-'));
  dirs.push(d);
  return d;
}

describe.each([
  { where: 'tmpfs (/dev/shm)', base: '/dev/shm', inline: true },
  { where: 'the test directory', base: os.tmpdir(), inline: false },
])('journal files on $where', ({ base, inline }) => {
  it(`writes records ${inline ? 'inline' : 'on the ring'} and reads them back`, async () => {
    const dir = dirOn(base);
    const [a, b] = await openJournalFiles(dir, backingOpener(ring));
    try {
      const rec = Buffer.alloc(4096 + 64, 0x6a);
      const written = a.pwrite(rec, 0, rec.length, 8192);
      if (inline) {
        // In the file before the promise is awaited (a ring write is only queued by now).
        const now = fs.readFileSync(journalPaths(dir)[0]);
        expect(now.length).toBe(8192 + rec.length);
        expect(now.subarray(8192).equals(rec)).toBe(true);
      }
      await written;
      const back = Buffer.alloc(rec.length);
      await a.pread(back, 0, back.length, 8192);
      expect(back.equals(rec)).toBe(true);
      await a.truncate(0);
      expect(fs.statSync(journalPaths(dir)[0]).size).toBe(0);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
