// The data `estimate` reads: files, block devices, and the regular files
// under directories (symbolic links inside them are not followed, as du -P).
// Reads never write and never change access times beyond a plain read.

import { lstatSync, readdirSync, statSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UcError } from '../util/errors.js';
import { ENOENT, errnoOf } from '../util/errno.js';
import { blockDeviceBytes } from '../util/block-device.js';

export interface InputFile {
  readonly path: string;
  readonly sizeBytes: number;
}

const CHUNK_BYTES = 1 << 20;

function sizeOf(st: Stats): number {
  return st.isBlockDevice() ? blockDeviceBytes(st.rdev) : st.size;
}

function walk(dir: string, out: InputFile[]): void {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (st.isDirectory()) walk(path, out);
    else if (st.isFile()) out.push({ path, sizeBytes: st.size });
  }
}

/** Every input the arguments name, in order; a missing one is a usage error. */
export function expandInputs(args: readonly string[]): InputFile[] {
  const out: InputFile[] = [];
  for (const arg of args) {
    const path = resolve(arg);
    let st: Stats;
    try {
      st = statSync(path);
    } catch (err) {
      if (errnoOf(err) === ENOENT) throw new UcError('UC_INVALID_ARGUMENT', `${arg}: no such file or directory`);
      throw new UcError('UC_IO', `cannot read ${arg}: ${(err as Error).message}`, { cause: err });
    }
    if (st.isDirectory()) walk(path, out);
    else if (st.isFile() || st.isBlockDevice()) out.push({ path, sizeBytes: sizeOf(st) });
    else throw new UcError('UC_INVALID_ARGUMENT', `${arg} is neither a file, a directory nor a block device`);
  }
  return out;
}

/**
 * Calls `onChunk` with the file's bytes in 1 MiB pieces, each a whole number
 * of 4 KiB blocks except the last, so a block never spans two calls.
 */
export async function readChunks(file: InputFile, onChunk: (chunk: Buffer) => void): Promise<void> {
  const handle = await open(file.path, 'r');
  try {
    const buf = Buffer.alloc(CHUNK_BYTES);
    for (;;) {
      let filled = 0;
      while (filled < CHUNK_BYTES) {
        const { bytesRead } = await handle.read(buf, filled, CHUNK_BYTES - filled, null);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled > 0) onChunk(buf.subarray(0, filled));
      if (filled < CHUNK_BYTES) return;
    }
  } finally {
    await handle.close();
  }
}
