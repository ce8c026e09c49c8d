// node bench/tools/engine-qd.mjs DIR [SECONDS]: the packed engine in-process, the
// way the daemon drives it under the packed benchmark's fio jobs (512 KiB
// sequential writes at QD4 over 32 MiB, then 4 KiB random reads and writes at
// QD16), on the IoRing backing like the daemon. Prints per phase: ops/s and
// the process CPU per op (user + system, all threads). Data: 60% compressible
// blocks, 30% repeats (fio-like, not byte-exact fio).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { formatPool } from '../../dist/src/engine/index.js';
import { backingOpener } from '../../dist/src/io/index.js';
import { IoRing } from '../../dist/src/native/index.js';
import { fioLikeBlocks } from './fio-like-blocks.mjs';

const dir = mkdtempSync(join(process.argv[2] ?? '/tmp', 'engine-qd-'));
const seconds = Number(process.argv[3] ?? 5);
const B = 4096;
const SPAN = 32 * 1024 * 1024;
const { rnd, block } = fioLikeBlocks();
const ring = new IoRing({ entries: 256 });
const engine = await formatPool({ backingPath: join(dir, 'pool.img'), logicalBytes: 128 * 1024 * 1024, openBacking: backingOpener(ring) });

/** CPU ticks (user + system) of each thread of this process, by tid. */
function threadTicks() {
  const out = new Map();
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(tid, Number(f[11]) + Number(f[12]));
  }
  return out;
}

async function phase(name, qd, next, stopAt) {
  const cpu0 = process.cpuUsage();
  const ticks0 = threadTicks();
  const t0 = performance.now();
  let ops = 0;
  let maxMs = 0;
  const worker = async () => {
    for (;;) {
      const op = next(ops);
      if (op === undefined || performance.now() - t0 > stopAt) return;
      ops += 1;
      const t = performance.now();
      await op();
      maxMs = Math.max(maxMs, performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: qd }, worker));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const main = String(process.pid);
  let mainTicks = 0;
  let otherTicks = 0;
  for (const [tid, t] of threadTicks()) {
    if (tid === main) mainTicks += t - (ticks0.get(tid) ?? 0);
    else otherTicks += t - (ticks0.get(tid) ?? 0);
  }
  console.log(`${name.padEnd(12)} ${ops} ops in ${(ms / 1000).toFixed(2)} s: ${((ops * 1000) / ms).toFixed(0)} ops/s, ` +
    `CPU ${((cpu.user + cpu.system) / ops).toFixed(0)} us/op (user ${(cpu.user / ops).toFixed(0)}, system ${(cpu.system / ops).toFixed(0)}); ` +
    `main thread ${mainTicks * 10} ms, other threads ${otherTicks * 10} ms; slowest op ${maxMs.toFixed(0)} ms`);
}

const big = Buffer.alloc(512 * 1024);
let seqAt = 0;
await phase('seqwrite-512k', 4, () => {
  if (seqAt >= SPAN) return undefined;
  const at = seqAt;
  seqAt += big.length;
  const buf = Buffer.allocUnsafe(big.length);
  for (let i = 0; i < buf.length; i += B) block().copy(buf, i);
  return () => engine.write(at / B, buf.length / B, buf, false);
}, Infinity);
const rbufs = Array.from({ length: 16 }, () => Buffer.allocUnsafe(B));
await phase('randread-4k', 16, (n) => () => engine.read(Math.floor(rnd() * (SPAN / B)), 1, rbufs[n % 16]), seconds * 1000);
await phase('randwrite-4k', 16, () => {
  const buf = Buffer.from(block());
  return () => engine.write(Math.floor(rnd() * (SPAN / B)), 1, buf, false);
}, seconds * 1000);
await engine.close();
ring.close();
rmSync(dir, { recursive: true, force: true });
