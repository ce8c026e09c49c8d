// The memory phase: write many unique blocks (default 8 GiB) spread over a
// large logical space (default 100 GiB) and watch the process's resident set.
// It runs in a child process of its own so the corpora and the ceiling's
// buffers of the parent do not count; the child prints one JSON line.
//
// Blocks come from a cheap generator: a 16 MiB pool of seeded random bytes;
// block i takes a window of it at a pseudo-random offset, keeps the first
// 4096 / 2^(i mod 4) bytes random and zeros the rest (so a quarter is
// incompressible and the rest compress about 2x, 4x, 8x), and stamps its
// index in the first 8 bytes, which makes every block unique.
// Writes go in batches of `batchBlocks` to batch-aligned positions visited in
// a stride permutation of the whole space: spread out, never overwritten.
import assert from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Prng } from '../corpus/prng.js';
import { BLOCK_BYTES } from '../../src/util/units.js';
import { allocatedBytes, compactLevelDir, dirBytes } from './disk-usage.js';
import { openEngineFactory } from './engine-adapter.js';
import { formatEngineOptions, type EngineBenchOptions } from './options.js';

export interface MemoryResult {
  writtenBytes: number;
  logicalSpaceBytes: number;
  rssMiBStart: number;
  rssMiBPeak: number;
  rssMiBEnd: number;
  heapUsedMiBPeak: number;
  /** Peak of Buffer/ArrayBuffer memory outside the JS heap (segment buffers, I/O). */
  arrayBuffersMiBPeak: number;
  /** RSS at the peak minus JS heap and ArrayBuffers: native allocations (LevelDB, addons). */
  nativeMiBAtPeak: number;
  writeMBps: number;
  metaBytes: number;
  metaBytesPerGiB: number;
  physicalDataBytes: number;
  rssSamples: number;
  /** RSS after each GiB written (is it a plateau or a slope?). */
  rssMiBPerGiBWritten: number[];
}

const POOL_BYTES = 16 * 1024 * 1024;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export class UniqueBlockGenerator {
  private readonly pool = Buffer.alloc(POOL_BYTES + BLOCK_BYTES);
  private readonly prng: Prng;

  constructor(seed: number) {
    const fill = new Prng(seed);
    fill.fill(this.pool);
    this.prng = new Prng(seed + 1);
  }

  /** Writes block number `index` into out[offset..offset+4096). */
  block(index: number, out: Buffer, offset: number): void {
    const randomBytes = BLOCK_BYTES >>> (index % 4);
    const from = this.prng.between(0, POOL_BYTES / 8 - 1) * 8;
    this.pool.copy(out, offset, from, from + randomBytes);
    out.fill(0, offset + randomBytes, offset + BLOCK_BYTES);
    out.writeDoubleLE(index, offset); // unique per block
  }
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** A stride coprime with `n` near n * 0.618: consecutive batches land far apart. */
export function spreadStride(n: number): number {
  let s = Math.max(1, Math.floor(n * 0.6180339887));
  while (gcd(s, n) !== 1) s += 1;
  return s;
}

/** Body of the child process. */
export async function memoryChild(o: EngineBenchOptions): Promise<MemoryResult> {
  const factory = await openEngineFactory();
  const batchBytes = o.batchBlocks * BLOCK_BYTES;
  const slots = Math.floor(o.memorySpaceBytes / batchBytes);
  const batches = Math.ceil(o.memoryBytes / batchBytes);
  assert(batches <= slots, '--memory-size must not exceed --memory-space');
  const stride = spreadStride(slots);
  const dir = mkdtempSync(join(o.workDir ?? tmpdir(), 'uc-bench-memory-'));
  const poolPath = join(dir, 'pool.img');
  const metaDir = join(dir, 'pool.img.meta');
  const gen = new UniqueBlockGenerator(o.seed);
  const buf = Buffer.alloc(batchBytes);
  let rssPeak = 0;
  let heapPeak = 0;
  let arrayBuffersPeak = 0;
  let nativeAtPeak = 0;
  let samples = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    if (m.rss > rssPeak) {
      rssPeak = m.rss;
      nativeAtPeak = m.rss - m.heapTotal - m.arrayBuffers;
    }
    heapPeak = Math.max(heapPeak, m.heapUsed);
    arrayBuffersPeak = Math.max(arrayBuffersPeak, m.arrayBuffers);
    samples += 1;
  };
  try {
    const engine = await factory.format({ poolPath, metaDir, logicalBytes: o.memorySpaceBytes });
    const rssStart = process.memoryUsage().rss;
    const timer = setInterval(sample, 50);
    const start = performance.now();
    let index = 0;
    const timeline: number[] = [];
    const batchesPerGiB = Math.max(1, Math.round(GiB / batchBytes));
    for (let b = 0; b < batches; b += 1) {
      for (let k = 0; k < o.batchBlocks; k += 1) gen.block(index++, buf, k * BLOCK_BYTES);
      const slot = (b * stride) % slots;
      await engine.write(slot * o.batchBlocks, buf);
      if (b % 16 === 0) sample();
      if ((b + 1) % batchesPerGiB === 0) timeline.push(process.memoryUsage().rss / MiB);
    }
    await engine.flush();
    const writeMs = performance.now() - start;
    sample();
    clearInterval(timer);
    const rssEnd = process.memoryUsage().rss;
    await engine.close();
    const physicalDataBytes = allocatedBytes(poolPath);
    await compactLevelDir(metaDir);
    const metaBytes = dirBytes(metaDir);
    const writtenBytes = batches * batchBytes;
    return {
      writtenBytes,
      logicalSpaceBytes: o.memorySpaceBytes,
      rssMiBStart: rssStart / MiB,
      rssMiBPeak: rssPeak / MiB,
      rssMiBEnd: rssEnd / MiB,
      heapUsedMiBPeak: heapPeak / MiB,
      arrayBuffersMiBPeak: arrayBuffersPeak / MiB,
      nativeMiBAtPeak: nativeAtPeak / MiB,
      writeMBps: writtenBytes / 1e6 / (writeMs / 1000),
      metaBytes,
      metaBytesPerGiB: metaBytes / (writtenBytes / GiB),
      physicalDataBytes,
      rssSamples: samples,
      rssMiBPerGiBWritten: timeline,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the memory phase in a fresh Node process and returns its result. */
export async function runMemoryPhase(o: EngineBenchOptions): Promise<MemoryResult> {
  const mainJs = fileURLToPath(new URL('../main.js', import.meta.url));
  const args = [mainJs, 'engine', ...formatEngineOptions({ ...o, json: true, memoryChild: true })];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`memory phase child exited with ${code}`);
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as MemoryResult;
}
