// node bench/tools/engine-phases.mjs IMAGE [--mib N] [--batch-blocks N] [--prof DIR] [--repeat N]
// The engine benchmark's write and read phases alone (bench/engine/engine-run.ts
// without the models and ceilings around them), over the first N MiB of a corpus
// image (e.g. .cache/bench/fs-image-*.img): format a file pool, write in batches,
// flush, close; reopen, read everything back, verify. Prints MB/s and process CPU
// (all threads) per block of each phase, the figure to compare on a loaded machine; with
// --prof, writes one V8 CPU profile per phase (write.cpuprofile, read.cpuprofile)
// for bench/tools/cpuprofile-top.mjs. Run it under `taskset -c N` for per-core figures.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { formatPool, openPool } from '../../dist/src/engine/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    mib: { type: 'string', default: '256' },
    'batch-blocks': { type: 'string', default: '256' },
    prof: { type: 'string' },
    repeat: { type: 'string', default: '1' },
    'work-dir': { type: 'string' },
  },
});
const B = 4096;
const image = readFileSync(positionals[0]);
const data = image.subarray(0, Math.min(image.length, Number(values.mib) * 1024 * 1024) & ~(B - 1));
const batchBytes = Number(values['batch-blocks']) * B;
const session = new Session();
session.connect();
if (values.prof !== undefined) mkdirSync(values.prof, { recursive: true });

async function profiled(name, fn) {
  if (values.prof === undefined) return fn();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(values.prof, `${name}.cpuprofile`), JSON.stringify(profile));
  }
}

async function once() {
  const dir = mkdtempSync(join(values['work-dir'] ?? tmpdir(), 'engine-phases-'));
  try {
    const backingPath = join(dir, 'pool.img');
    const w = await formatPool({ backingPath, logicalBytes: data.length });
    const cpuW = process.cpuUsage();
    const writeMs = await profiled('write', async () => {
      const t0 = performance.now();
      for (let at = 0; at < data.length; at += batchBytes) {
        const chunk = data.subarray(at, Math.min(at + batchBytes, data.length));
        await w.write(at / B, chunk.length / B, chunk, false);
      }
      await w.flush();
      return performance.now() - t0;
    });
    const writeCpu = process.cpuUsage(cpuW);
    await w.close();
    const r = await openPool({ backingPath });
    const out = Buffer.alloc(batchBytes);
    let readMs = 0;
    const cpuR = process.cpuUsage();
    await profiled('read', async () => {
      for (let at = 0; at < data.length; at += batchBytes) {
        const length = Math.min(batchBytes, data.length - at);
        const target = out.subarray(0, length);
        const t0 = performance.now();
        await r.read(at / B, length / B, target);
        readMs += performance.now() - t0;
        if (target.compare(data, at, at + length) !== 0) throw new Error(`mismatch at block ${at / B}`);
      }
    });
    const readCpu = process.cpuUsage(cpuR);
    await r.close();
    const mb = data.length / 1e6;
    const us = (c) => ((c.user + c.system) / (data.length / B)).toFixed(2);
    console.log(`${mb.toFixed(1)} MB: write ${(mb / (writeMs / 1000)).toFixed(1)} MB/s (CPU ${us(writeCpu)} us/block), ` +
      `read ${(mb / (readMs / 1000)).toFixed(1)} MB/s (CPU ${us(readCpu)} us/block, verify outside the timed reads)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (let k = 0; k < Number(values.repeat); k++) await once();
session.disconnect();
