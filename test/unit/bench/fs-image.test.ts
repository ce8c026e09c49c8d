import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFsImage } from '../../../bench/corpus/cache.js';
import {
  alignedBytes,
  buildFsImage,
  listFiles,
  pickFiles,
} from '../../../bench/corpus/fs-image.js';
import { Prng } from '../../../bench/corpus/prng.js';

let root: string;

function makeTree(dir: string, seed: number, count: number): void {
  const prng = new Prng(seed);
  mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
  for (let i = 0; i < count; i += 1) {
    const size = 1 + prng.between(0, 20_000);
    const content = Buffer.alloc(size);
    prng.fill(content);
    const path = join(
      dir, i % 3 === 0 ? 'sub' : i % 3 === 1 ? 'sub/deeper' : '', `f${i}.bin`);
    writeFileSync(path, content);
  }
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'uc-bench-fs-'));
  makeTree(join(root, 'a'), 1, 40);
  makeTree(join(root, 'b'), 2, 30);
  writeFileSync(join(root, 'a', 'empty'), '');
  writeFileSync(join(root, 'a', 'big.bin'), Buffer.alloc(300_000, 7));
  linkSync(join(root, 'a', 'f2.bin'), join(root, 'a', 'hardlink.bin'));
  symlinkSync(join(root, 'b'), join(root, 'a', 'link-to-b'));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('fs-image corpus', () => {
  it('lists regular files once: no empty, oversized, hard-linked twice or symlinked', () => {
    const seen = new Set<string>();
    const files = listFiles(join(root, 'a'), 200_000, seen).map((f) => f.path);
    expect(files.length).toBe(40);
    expect(files.some((p) => p.endsWith('empty') || p.endsWith('big.bin'))).toBe(false);
    expect(files.filter((p) => p.endsWith('f2.bin') || p.endsWith('hardlink.bin')).length).toBe(1);
    expect(files.some((p) => p.includes('link-to-b'))).toBe(false);
  });

  it('places every file on a 4 KiB boundary with its bytes and zero padding', () => {
    const image = buildFsImage({
      sizeBytes: 256 * 1024,
      sources: [{ dir: join(root, 'a'), share: 1 }, { dir: join(root, 'b'), share: 1 }],
      maxFileBytes: 200_000,
    });
    expect(image.data.length % 4096).toBe(0);
    expect(image.data.length).toBeGreaterThanOrEqual(256 * 1024);
    let expectedOffset = 0;
    for (const f of image.files) {
      expect(f.offsetBytes % 4096).toBe(0);
      expect(f.offsetBytes).toBe(expectedOffset);
      const slot = image.data.subarray(f.offsetBytes, f.offsetBytes + alignedBytes(f.sizeBytes));
      const content = slot.subarray(0, f.sizeBytes);
      expect(content.equals(readFileSync(f.path))).toBe(true);
      expect(slot.subarray(f.sizeBytes).every((b) => b === 0)).toBe(true);
      expectedOffset += alignedBytes(f.sizeBytes);
    }
    expect(expectedOffset).toBe(image.data.length);
    // Each source meets its quota (half the image each here).
    for (const s of image.sources) expect(s.sizeBytes).toBeGreaterThanOrEqual(128 * 1024);
  });

  it('is deterministic for a seed, and the seed changes the selection', () => {
    const opts = { sizeBytes: 128 * 1024, sources: [{ dir: join(root, 'a'), share: 1 }] };
    const one = buildFsImage({ ...opts, seed: 5 });
    const two = buildFsImage({ ...opts, seed: 5 });
    const other = buildFsImage({ ...opts, seed: 6 });
    expect(one.data.equals(two.data)).toBe(true);
    expect(one.files.map((f) => f.path)).toEqual(two.files.map((f) => f.path));
    expect(other.files.map((f) => f.path)).not.toEqual(one.files.map((f) => f.path));
  });

  it('keeps the order of the other files when one file is added', () => {
    const cands = Array.from({ length: 50 }, (_, i) => ({ path: `/x/${i}`, sizeBytes: 4096 }));
    const before = pickFiles(cands, 50 * 4096, 3).map((f) => f.path);
    const after = pickFiles([...cands, { path: '/x/new', sizeBytes: 4096 }], 51 * 4096, 3)
      .map((f) => f.path)
      .filter((p) => p !== '/x/new');
    expect(after).toEqual(before);
  });

  it('caches the image and returns the same bytes', () => {
    const cacheDir = join(root, 'cache');
    const opts = { sizeBytes: 64 * 1024, sources: [{ dir: join(root, 'b'), share: 1 }] };
    const first = loadFsImage(opts, cacheDir);
    const second = loadFsImage(opts, cacheDir);
    expect(first.fromCache).toBe(false);
    expect(second.fromCache).toBe(true);
    expect(second.image.data.equals(first.image.data)).toBe(true);
    expect(second.sha256).toBe(first.sha256);
  });
});
