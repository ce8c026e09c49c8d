// The overwrite phase of an engine run: random 64 KiB writes over the mapped
// region of a reopened pool, each taking the content of another random place
// of the dataset (so most blocks are duplicates of stored ones, and every write
// replaces a mapped block: old map entry, old extent and fingerprint lookups,
// the metadata working set a device under a filesystem sees). Timed, flushed,
// then every block is read back and compared with a model of what was written.
import { performance } from 'node:perf_hooks';
import { Prng } from '../corpus/prng.js';
import { BLOCK_BYTES } from '../../src/util/units.js';
import type { EngineUnderTest } from './engine-adapter.js';

export interface OverwriteResult {
  /** Bytes written by the phase (half the dataset). */
  bytes: number;
  blocksPerWrite: number;
  writeMBps: number;
  verifiedBlocks: number;
}

const BLOCKS_PER_WRITE = 16;

export async function runOverwritePhase(engine: EngineUnderTest, data: Buffer, seed: number): Promise<OverwriteResult> {
  const blocks = data.length / BLOCK_BYTES;
  const model = Buffer.from(data);
  const prng = new Prng(seed);
  const writes = Math.max(1, Math.floor(blocks / 2 / BLOCKS_PER_WRITE));
  const span = Math.max(1, blocks - BLOCKS_PER_WRITE);
  const bytesPerWrite = BLOCKS_PER_WRITE * BLOCK_BYTES;
  let ms = 0;
  for (let i = 0; i < writes; i++) {
    const to = prng.between(0, span);
    const from = prng.between(0, span);
    const chunk = data.subarray(from * BLOCK_BYTES, from * BLOCK_BYTES + bytesPerWrite);
    const t0 = performance.now();
    await engine.write(to, chunk);
    ms += performance.now() - t0;
    chunk.copy(model, to * BLOCK_BYTES);
  }
  const t1 = performance.now();
  await engine.flush();
  ms += performance.now() - t1;
  const out = Buffer.alloc(256 * BLOCK_BYTES);
  for (let at = 0; at < model.length; at += out.length) {
    const target = out.subarray(0, Math.min(out.length, model.length - at));
    await engine.read(at / BLOCK_BYTES, target);
    if (target.compare(model, at, at + target.length) !== 0) {
      throw new Error(`overwrite phase: read-back mismatch near block ${at / BLOCK_BYTES}`);
    }
  }
  const bytes = writes * bytesPerWrite;
  return { bytes, blocksPerWrite: BLOCKS_PER_WRITE, writeMBps: bytes / 1e6 / (ms / 1000), verifiedBlocks: blocks };
}
