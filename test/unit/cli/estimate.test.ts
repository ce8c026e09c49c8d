// `estimate PATH...` through main(): directories walked (symlinks not
// followed), duplicates, zeros and random data counted as the engine would,
// nothing written, argument errors exit 2.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runMain } from './run-main.js';

const dir = mkdtempSync(join(tmpdir(), 'uc-estimate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = runMain;

describe('estimate', () => {
  const text = Buffer.from('the quick brown fox jumps over the lazy dog\n'.repeat(2000)); // 88000 B: 22 blocks, last partial
  const random = randomBytes(64 * 4096);
  mkdirSync(join(dir, 'data', 'sub'), { recursive: true });
  writeFileSync(join(dir, 'data', 'a.txt'), text);
  writeFileSync(join(dir, 'data', 'sub', 'copy.txt'), text);
  writeFileSync(join(dir, 'data', 'zeros'), Buffer.alloc(16 * 4096));
  writeFileSync(join(dir, 'random.bin'), random);
  symlinkSync(join(dir, 'random.bin'), join(dir, 'data', 'link-to-random'));

  it('counts blocks, dedup, same-fill and stored bytes of a tree and a file', async () => {
    const before = readdirSync(join(dir, 'data')).sort();
    const r = await run('estimate', '--json', join(dir, 'data'), join(dir, 'random.bin'));
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as { files: number; bytes: number; totals: Record<string, number>; prediction: Record<string, number> };
    expect(j.files).toBe(4); // a.txt, sub/copy.txt, zeros, random.bin: the link is not followed
    expect(j.bytes).toBe(2 * 88000 + 16 * 4096 + 64 * 4096);
    // 22 text blocks each (the text repeats with period 44 B, so many of its blocks are equal too)
    expect(j.totals.blocks).toBe(22 + 22 + 16 + 64);
    expect(j.totals.sameFillBlocks).toBe(16);
    expect(j.totals.dedupBlocks).toBeGreaterThanOrEqual(22);
    expect(j.totals.rawBlocks).toBe(64); // random data does not compress
    expect(j.totals.storedBytes).toBeGreaterThan(64 * 4112);
    expect(j.prediction.ratio).toBeGreaterThan(1);
    expect(j.prediction.poolBytes % (4 * 1024 * 1024)).toBe(0);
    expect(readdirSync(join(dir, 'data')).sort()).toEqual(before);
  });

  it('prints a table; dedup off and no compression store everything', async () => {
    const r = await run('estimate', '--dedup', 'off', '--compress', 'none', join(dir, 'random.bin'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^scanned +1 file\(s\), 256\.00 KiB \(64 blocks of 4 KiB\)$/m);
    expect(r.out).toMatch(/^stored +257\.00 KiB$/m); // 64 x (4096 + 16)
    expect(r.out).toMatch(/^ratio +1\.00:1/m); // 4096 / 4112, rounded
  });

  it('a missing path or no path is a usage error', async () => {
    expect((await run('estimate')).code).toBe(2);
    const missing = await run('estimate', join(dir, 'nope'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/nope: no such file or directory/);
  });
});
