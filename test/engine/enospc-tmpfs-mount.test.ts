// ENOSPC on real filesystems (issue 7 item 4). MOUNTS two small tmpfs filesystems
// (needs root): the pool file on one, its LevelDB metadata on the other. Once for
// each: fill it (a filler file takes most of it) until a flush fails; then writes
// and FLUSH get UC_NO_SPACE (ENOSPC), every block read back is intact (flushed ones
// and the acknowledged ones of the failed batch), the engine logs one no-space
// event; after the filler is deleted, writes succeed again without a reopen; then
// flush, close, reopen and verify everything. Both filesystems are unmounted in afterAll.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPool, openPool, type BlockEngine, type EngineEvent } from '../../src/engine/index.js';
import { toErrno } from '../../src/util/errors.js';
import { BLOCK_BYTES } from '../../src/util/units.js';
import { makeBlock, rng } from './helpers.js';

const MOUNT_BYTES = 24 * 1024 * 1024;
const LOGICAL_BYTES = 64 * 1024 * 1024;
const SEGMENT_BYTES = 256 * 1024;
const WRITE_BLOCKS = 64;
const RETRY_MS = 50;
/** Bounds the fill loop: more than the logical size can never be needed. */
const ROUNDS_MAX = LOGICAL_BYTES / (WRITE_BLOCKS * BLOCK_BYTES);

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'uc-enospc-'));
const poolFs = path.join(root, 'pool-fs');
const metaFs = path.join(root, 'meta-fs');
const mounted: string[] = [];
const open: BlockEngine[] = [];

function mountTmpfs(dir: string): void {
  fs.mkdirSync(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${MOUNT_BYTES},mode=0700`, 'tmpfs', dir]);
  mounted.push(dir);
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('this test mounts tmpfs filesystems: run it as root');
  mountTmpfs(poolFs);
  mountTmpfs(metaFs);
});

afterAll(async () => {
  for (const e of open) await e.close().catch(() => undefined);
  for (const dir of mounted.reverse()) {
    try {
      execFileSync('umount', [dir]);
    } catch {
      execFileSync('umount', ['-l', dir]);
    }
  }
  fs.rmSync(root, { recursive: true, force: true });
});

/** A file taking all but `leaveBytes` of the filesystem holding `dir`. */
function writeFiller(dir: string, leaveBytes: number): string {
  const st = fs.statfsSync(dir);
  const bytes = st.bavail * st.bsize - leaveBytes;
  expect(bytes).toBeGreaterThan(0);
  const file = path.join(dir, 'filler');
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(1024 * 1024, 0xee);
  for (let done = 0; done < bytes; done += chunk.length) {
    fs.writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done));
  }
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  return file;
}

async function expectNoSpace(p: Promise<unknown>): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, 'must fail with UC_NO_SPACE').toMatchObject({ code: 'UC_NO_SPACE' });
  expect(toErrno(err)).toBe(-28);
}

async function expectBlocks(e: BlockEngine, model: Map<number, Buffer>, what: string): Promise<void> {
  const out = Buffer.alloc(BLOCK_BYTES);
  for (const [lba, b] of model) {
    await e.read(lba, 1, out);
    expect(out.equals(b), `${what}: lba ${lba}`).toBe(true);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function fullThenFreed(name: string, fillerDir: string, leaveBytes: number, seed: number): Promise<void> {
  const backingPath = path.join(poolFs, `${name}.img`);
  const metaDir = path.join(metaFs, `${name}.meta`);
  const events: EngineEvent[] = [];
  const opts = { flushDelayMs: 0, backgroundCompaction: false, stallRetryMs: RETRY_MS, onEvent: (ev: EngineEvent) => events.push(ev) };
  const e = await formatPool({ backingPath, metaDir, logicalBytes: LOGICAL_BYTES, segmentBytes: SEGMENT_BYTES, ...opts });
  open.push(e);
  const filler = writeFiller(fillerDir, leaveBytes);
  const r = rng(seed);
  let tag = 1;
  let nextLba = 0;
  const model = new Map<number, Buffer>();
  /** Writes fresh LBAs (never overwrites); acknowledged blocks join the model. */
  const writeFresh = async (): Promise<void> => {
    const data = Array.from({ length: WRITE_BLOCKS }, () => makeBlock(r, 0, tag++));
    const lba = nextLba;
    nextLba += WRITE_BLOCKS;
    await e.write(lba, WRITE_BLOCKS, Buffer.concat(data), false);
    data.forEach((b, i) => model.set(lba + i, b));
  };
  let flushed = new Map<number, Buffer>();
  let failure: unknown;
  for (let round = 0; round < ROUNDS_MAX && failure === undefined; round++) {
    // The write fails first when the write journal (in the metadata directory) cannot
    // take it and the durable commit that stands in for it fails too.
    failure = await writeFresh().then(() => e.flush()).then(() => undefined, (err: unknown) => err);
    if (failure === undefined) flushed = new Map(model);
  }
  expect(failure, 'the filesystem filled up').toMatchObject({ code: 'UC_NO_SPACE' });
  expect(flushed.size).toBeGreaterThan(0);
  // (Equal when the failing step was a write: its journal record and the commit standing in failed.)
  expect(model.size).toBeGreaterThanOrEqual(flushed.size);
  // Full: writes and FLUSH fail with ENOSPC; reads keep working, the failed batch included.
  await expectNoSpace(writeFresh());
  await expectNoSpace(e.flush());
  await expectBlocks(e, model, 'while full');
  expect(events.filter((ev) => ev.kind === 'no-space')).toHaveLength(1);
  // Free space: the engine recovers by itself, without a reopen.
  fs.rmSync(filler);
  await sleep(RETRY_MS * 4);
  await writeFresh();
  await e.flush();
  expect(events.map((ev) => ev.kind)).toEqual(['no-space', 'no-space-cleared']);
  await expectBlocks(e, model, 'after space was freed');
  await e.close();
  open.pop();
  const again = await openPool({ backingPath, metaDir, flushDelayMs: 0 });
  open.push(again);
  await expectBlocks(again, model, 'after reopen');
  await again.close();
  open.pop();
}

describe('a full filesystem under the pool or the metadata (mounts tmpfs)', () => {
  it('pool filesystem full: ENOSPC, reads intact, recovers once space is freed', async () => {
    await fullThenFreed('poolfull', poolFs, 2 * 1024 * 1024, 1);
  }, 120_000);

  it('metadata filesystem full: ENOSPC, reads intact, recovers once space is freed', async () => {
    await fullThenFreed('metafull', metaFs, 128 * 1024, 2);
  }, 120_000);
});
