// A filesystem-like corpus built from this machine's own files.
//
// Files are picked from a few source trees (default /usr/lib, /usr/share,
// /usr/include) and laid out the way a filesystem stores file data: each file
// starts on a 4 KiB boundary and its last block is padded with zeros. The
// result is one stream of 4 KiB blocks.
//
// Selection is deterministic: candidates (regular files, 1 byte..maxFileBytes,
// hard links once, symlinks never followed) are ordered by a seeded hash of
// their path, and taken in that order until each source's quota is met. Adding
// or removing unrelated files does not reorder the others. The built image is
// cached (see corpus/cache.ts) so later runs use the very same bytes.
import assert from 'node:assert';
import { closeSync, lstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { BLOCK_BYTES } from '../../src/util/units.js';

export interface FsSource {
  dir: string;
  /** Relative weight of this source in the image. */
  share: number;
}

/** Proportions of a typical Debian system tree: 112 + 96 + 48 MiB of 256. */
export const DEFAULT_FS_SOURCES: readonly FsSource[] = [
  { dir: '/usr/lib', share: 7 },
  { dir: '/usr/share', share: 6 },
  { dir: '/usr/include', share: 3 },
];

export const DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024;

export interface FsImageOptions {
  /** Minimum image size; the last file of each source may overshoot its quota. */
  sizeBytes: number;
  sources?: readonly FsSource[];
  seed?: number;
  maxFileBytes?: number;
}

export interface FsCandidate {
  path: string;
  sizeBytes: number;
}

export interface FsImageFile extends FsCandidate {
  offsetBytes: number;
}

export interface FsImage {
  data: Buffer;
  files: FsImageFile[];
  sources: { dir: string; fileCount: number; sizeBytes: number }[];
}

/** Bytes a file occupies in the image: its size rounded up to whole blocks. */
export function alignedBytes(sizeBytes: number): number {
  return Math.ceil(sizeBytes / BLOCK_BYTES) * BLOCK_BYTES;
}

/** FNV-1a over the seed and the path: a stable, seed-dependent order. */
export function selectionKey(seed: number, path: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  const text = Buffer.from(path, 'utf8');
  for (const byte of text) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Regular files under `dir` (sorted walk, symlinks not followed), skipping
 * empty files, files over `maxFileBytes` and inodes already in `seenInodes`.
 */
export function listFiles(dir: string, maxFileBytes: number, seenInodes: Set<string>): FsCandidate[] {
  const out: FsCandidate[] = [];
  const stack = [dir];
  // Bounded walk: a directory is visited once (no symlinks), so this terminates.
  while (stack.length > 0) {
    const current = stack.pop() as string;
    let names: string[];
    try {
      names = readdirSync(current).sort();
    } catch {
      continue; // unreadable directory: not part of the corpus
    }
    for (let i = names.length - 1; i >= 0; i -= 1) {
      const path = join(current, names[i]);
      const st = lstatSync(path, { throwIfNoEntry: false });
      if (st === undefined) continue;
      if (st.isDirectory()) {
        stack.push(path);
      } else if (st.isFile() && st.size > 0 && st.size <= maxFileBytes) {
        const inode = `${st.dev}:${st.ino}`;
        if (seenInodes.has(inode)) continue;
        seenInodes.add(inode);
        out.push({ path, sizeBytes: st.size });
      }
    }
  }
  return out;
}

/** Candidates in seeded order, taken until their aligned size reaches `quotaBytes`. */
export function pickFiles(candidates: FsCandidate[], quotaBytes: number, seed: number): FsCandidate[] {
  assert(quotaBytes >= 0);
  const keyed = candidates.map((c) => ({ c, key: selectionKey(seed, c.path) }));
  keyed.sort((a, b) => a.key - b.key || (a.c.path < b.c.path ? -1 : 1));
  const picked: FsCandidate[] = [];
  let total = 0;
  for (const { c } of keyed) {
    if (total >= quotaBytes) break;
    picked.push(c);
    total += alignedBytes(c.sizeBytes);
  }
  return picked;
}

/** Reads `files` into one image, each at a block boundary, tails zero-padded. */
export function layoutFiles(files: FsCandidate[]): { data: Buffer; files: FsImageFile[] } {
  let offset = 0;
  const placed: FsImageFile[] = files.map((f) => {
    const at = offset;
    offset += alignedBytes(f.sizeBytes);
    return { ...f, offsetBytes: at };
  });
  // Zero-filled: padding and any file that shrank since it was listed stay zeros.
  const data = Buffer.alloc(offset);
  for (const f of placed) {
    assert(f.offsetBytes % BLOCK_BYTES === 0);
    readInto(f.path, data.subarray(f.offsetBytes, f.offsetBytes + f.sizeBytes));
  }
  return { data, files: placed };
}

function readInto(path: string, target: Buffer): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return; // vanished or unreadable since the walk: the slot stays zeros
  }
  try {
    let done = 0;
    while (done < target.length) {
      const n = readSync(fd, target, done, target.length - done, done);
      if (n === 0) break;
      done += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** Walks the sources, picks files per quota and lays them out. */
export function buildFsImage(options: FsImageOptions): FsImage {
  const sources = options.sources ?? DEFAULT_FS_SOURCES;
  const seed = options.seed ?? 1;
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  assert(options.sizeBytes > 0 && sources.length > 0);
  const shareTotal = sources.reduce((sum, s) => sum + s.share, 0);
  const seenInodes = new Set<string>();
  const chosen: FsCandidate[] = [];
  const summary: FsImage['sources'] = [];
  for (const source of sources) {
    const quota = alignedBytes(Math.ceil((options.sizeBytes * source.share) / shareTotal));
    const picked = pickFiles(listFiles(source.dir, maxFileBytes, seenInodes), quota, seed);
    const sizeBytes = picked.reduce((sum, f) => sum + alignedBytes(f.sizeBytes), 0);
    summary.push({ dir: source.dir, fileCount: picked.length, sizeBytes });
    chosen.push(...picked);
  }
  const { data, files } = layoutFiles(chosen);
  return { data, files, sources: summary };
}
