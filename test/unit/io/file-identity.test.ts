// Every re-open of a locked backing path checks that it reached the locked
// inode (the 1:1 daemon's ring descriptor, its O_DIRECT descriptor and
// --preallocate; the packed engine's opener): a file renamed over the path
// after the lock is refused and left untouched.
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDirectIo } from '../../../src/direct/odirect.js';
import { preallocate } from '../../../src/direct/preallocate.js';
import { openBackingFile } from '../../../src/io/index.js';
import { UcError } from '../../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'file-identity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function swapped(name: string): { path: string; locked: { dev: number; ino: number } } {
  const path = join(dir, name);
  writeFileSync(path, Buffer.alloc(1 << 20));
  const locked = statSync(path);
  writeFileSync(`${path}.other`, 'other file');
  renameSync(`${path}.other`, path);
  return { path, locked: { dev: locked.dev, ino: locked.ino } };
}

function expectReplaced(err: unknown): void {
  expect(err).toBeInstanceOf(UcError);
  expect((err as UcError).code).toBe('UC_POOL_LOCKED');
  expect((err as UcError).message).toMatch(/was replaced after it was locked/);
}

describe('opens of a locked path refuse another inode', () => {
  it('openBackingFile, openDirectIo and preallocate', async () => {
    const { path, locked } = swapped('a.img');
    expectReplaced(await openBackingFile(path, { lockedAs: locked, transport: 'node' }).catch((e: unknown) => e));
    expectReplaced((() => { try { return openDirectIo(path, locked); } catch (e) { return e; } })());
    expectReplaced(await preallocate(path, 1 << 20, locked).catch((e: unknown) => e));
    expect(readFileSync(path, 'utf8')).toBe('other file');
  });

  it('the locked inode itself opens', async () => {
    const path = join(dir, 'b.img');
    writeFileSync(path, Buffer.alloc(1 << 20));
    const file = await openBackingFile(path, { lockedAs: statSync(path), transport: 'node' });
    expect(file.sizeBytes).toBe(1 << 20);
    await file.close();
  });
});
