// node bench/tools/engine-write-sizes.mjs [SECONDS]: the packed engine in-process
// (on the IoRing backing, as the daemon), random writes of 1 block at QD16, 16
// blocks at QD16 and 128 blocks at QD4, twice each: the process CPU per block
// written. The difference between one-block and larger writes is what each
// request costs beyond its blocks (what coalescing small writes could save).
// Data: 60% compressible blocks, 30% repeats, generated before the timed part.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { formatPool } from '../../dist/src/engine/index.js';
import { backingOpener } from '../../dist/src/io/index.js';
import { IoRing } from '../../dist/src/native/index.js';
import { fioLikeBlocks } from './fio-like-blocks.mjs';
const dir = mkdtempSync(join('/dev/shm', 'eqd2-'));
const B = 4096;
const SPAN = 32 * 1024 * 1024;
const seconds = Number(process.argv[2] ?? 3);
const { rnd, block } = fioLikeBlocks();
const pool = Array.from({ length: 8192 }, () => Buffer.from(block()));
const ring = new IoRing({ entries: 256 });
const engine = await formatPool({ backingPath: join(dir, 'pool.img'), logicalBytes: 128 * 1024 * 1024, openBacking: backingOpener(ring) });
let pi = 0;
function data(blocks) {
  const b = Buffer.allocUnsafe(blocks * B);
  for (let i = 0; i < blocks; i++) pool[(pi++) % pool.length].copy(b, i * B);
  return b;
}
async function phase(name, qd, blocks, ms) {
  const bufs = Array.from({ length: 64 }, () => data(blocks));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let ops = 0;
  const worker = async () => {
    while (performance.now() - t0 < ms) {
      const buf = bufs[ops % bufs.length];
      ops += 1;
      const lba = Math.floor(rnd() * (SPAN / B / blocks)) * blocks;
      await engine.write(lba, blocks, buf, false);
    }
  };
  await Promise.all(Array.from({ length: qd }, worker));
  const el = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  console.log(`${name.padEnd(14)} ${ops} ops ${(ops * blocks * 1000 / el).toFixed(0)} blocks/s, CPU ${((cpu.user + cpu.system) / ops / blocks).toFixed(1)} us/block`);
}
for (let r = 0; r < 2; r++) {
  await phase('w 1blk qd16', 16, 1, seconds * 1000);
  await phase('w 16blk qd16', 16, 16, seconds * 1000);
  await phase('w 128blk qd4', 4, 128, seconds * 1000);
}
await engine.close();
ring.close();
rmSync(dir, { recursive: true, force: true });
