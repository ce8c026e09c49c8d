// The report's guest helper on the host: the same-fill writer and the
// VM-image mutator (the quick guest run skips those two data sets).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mutate, sameFill, splitCommands, vmCopies } from '../../../bench/suite/guest-helper.js';

describe('bench guest helper', () => {
  const dir = mkdtempSync(join(tmpdir(), 'guest-helper-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('same-fill writes 4 KiB blocks of one 8-byte pattern each, a different one per block', () => {
    const file = join(dir, 'dev');
    writeFileSync(file, '');
    sameFill(file, 1);
    const data = readFileSync(file);
    expect(data.length).toBe(1024 * 1024);
    for (const block of [0, 1, 255]) {
      const b = data.subarray(block * 4096, (block + 1) * 4096);
      const pattern = b.readBigUInt64LE(0);
      expect(pattern).toBe(BigInt(block + 1));
      for (let off = 0; off < 4096; off += 8) expect(b.readBigUInt64LE(off)).toBe(pattern);
    }
  });

  it('mutate rewrites every N-th file from the K-th with seeded bytes of the same size', () => {
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'sub'), { recursive: true });
    const names = ['a', 'b', 'c', 'sub/d', 'sub/e', 'sub/f'];
    for (const n of names) writeFileSync(join(tree, n), Buffer.alloc(100, 7));
    expect(mutate(tree, 1, 3)).toBe(2);
    const changed = names.filter((n) => !readFileSync(join(tree, n)).equals(Buffer.alloc(100, 7)));
    expect(changed).toEqual(['b', 'sub/e']);
    for (const n of names) expect(readFileSync(join(tree, n)).length).toBe(100);
  });

  it('vm-copies makes copy k of one tree differ from the others in its own files', () => {
    const root = join(dir, 'vm');
    const names = ['a', 'b', 'c', 'd'];
    for (const k of [1, 2]) {
      mkdirSync(join(root, `vm${k}`), { recursive: true });
      for (const n of names) writeFileSync(join(root, `vm${k}`, n), Buffer.alloc(64, 1));
    }
    expect(vmCopies(root, 2, 4)).toBe(2);
    const changed = (k: number): string[] => names.filter((n) => !readFileSync(join(root, `vm${k}`, n)).equals(Buffer.alloc(64, 1)));
    expect(changed(1)).toEqual(['b']);
    expect(changed(2)).toEqual(['c']);
  });

  it('runs several commands separated by -- in one process', () => {
    expect(splitCommands(['vm-copies', 'R', '3', '16', '--', 'same-fill', 'F', '8'])).toEqual([
      ['vm-copies', 'R', '3', '16'],
      ['same-fill', 'F', '8'],
    ]);
    expect(splitCommands(['ceiling', 'F'])).toEqual([['ceiling', 'F']]);
  });
});
