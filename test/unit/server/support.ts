// Helpers shared by the server's unit tests: catching a refusal (thrown or
// rejected), a private run directory, and the configs a packed pool is claimed with.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect } from 'vitest';
import type { AddConfig, PackedConfig } from '../../../src/server/config.js';
import { UcError } from '../../../src/util/errors.js';

/** The UcError fn throws; fails the test when it returns or throws something else. */
export function refusal(fn: () => unknown): UcError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UcError);
    return err as UcError;
  }
  throw new Error('expected a refusal');
}

/** The UcError `p` rejects with; fails the test when it resolves or rejects with something else. */
export async function rejection(p: Promise<unknown>): Promise<UcError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(UcError);
  return err as UcError;
}

/** A fresh UBLK_COMPRESS_RUN_DIR for each test (run records land there), removed after it. -> its path now. */
export function tempRunDir(prefix: string): () => string {
  let dir = '';
  const prev = process.env.UBLK_COMPRESS_RUN_DIR;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    process.env.UBLK_COMPRESS_RUN_DIR = dir;
  });
  afterEach(() => {
    if (prev === undefined) delete process.env.UBLK_COMPRESS_RUN_DIR;
    else process.env.UBLK_COMPRESS_RUN_DIR = prev;
    rmSync(dir, { recursive: true, force: true });
  });
  return () => dir;
}

/** `add --backing BACKING [--size]` of a packed device, in the foreground. */
export function cfgOf(backing: string, sizeBytes?: number): AddConfig {
  return {
    backing, sizeBytes, layout: 'packed', queues: 1, depth: 16, devId: undefined, foreground: true,
    logPath: undefined, startTimeoutMs: 1000, readyFd: undefined, logProvisional: false,
  };
}

/** The packed options of a pool with its metadata beside it (or at metaDir). */
export function packedOf(pool: string, metaDir = `${pool}.meta`): PackedConfig {
  return { poolPath: pool, metaDir, metaExplicit: false, dedup: 'verify', compression: 'lz4', cacheMib: 64, recover: false };
}
