// Small jobs bench/suite/guest.sh runs inside the guest, where one node start
// is cheaper than thousands of shell commands under emulation:
//   guest-helper.js ceiling FILE          the engine's lz4+XXH128 ceiling over FILE (one JSON line),
//                                         with the batch codec calls the engine makes (liblz4 + libxxhash)
//   guest-helper.js same-fill DEV MIB     writes MIB of same-filled 4 KiB blocks (8-byte pattern = block index)
//                                         to a device or file
//   guest-helper.js mutate DIR K N        rewrites every N-th file (from the K-th) under DIR with seeded bytes
//   guest-helper.js vm-copies ROOT C N    mutate ROOT/vmK K N for K = 1..C: C copies of one tree made different
// Several commands separated by `--` run in one process.
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { analyzeBlocks, summarize } from '../engine/analyze.js';
import { measureCeiling } from '../engine/ceiling.js';
import { NativeCeilingMeter } from '../engine/ceiling-native.js';

const BLOCK = 4096;
const MIB = 1024 * 1024;

/** At most this much of the data: the ceiling is a rate, and the guest is slow. */
const CEILING_MAX_BYTES = 8 * MIB;

function ceiling(file: string): void {
  const whole = readFileSync(file);
  const data = whole.subarray(0, Math.min(whole.length, CEILING_MAX_BYTES));
  const a = analyzeBlocks(data);
  const c = measureCeiling(new NativeCeilingMeter(data, a), data, a, 1);
  const s = summarize(a);
  process.stdout.write(
    `${JSON.stringify({ bytes: data.length, writeMBps: +c.writeMBps.toFixed(1), readMBps: +c.readMBps.toFixed(1), analysis: s })}\n`,
  );
}

export function sameFill(dev: string, mib: number): void {
  const fd = openSync(dev, 'w');
  try {
    const chunk = Buffer.alloc(MIB);
    let block = 0;
    for (let m = 0; m < mib; m += 1) {
      for (let off = 0; off < MIB; off += BLOCK) {
        const pattern = Buffer.alloc(8);
        pattern.writeBigUInt64LE(BigInt(block + 1));
        for (let p = off; p < off + BLOCK; p += 8) pattern.copy(chunk, p);
        block += 1;
      }
      writeSync(fd, chunk, 0, MIB, m * MIB);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Files under dir in a stable order. */
function listFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) listFiles(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** xorshift32 bytes: incompressible, different per seed. */
function seededBytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed | 1;
  for (let i = 0; i < n; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export function mutate(dir: string, k: number, n: number): number {
  const files = listFiles(dir);
  let changed = 0;
  for (let i = k % n; i < files.length; i += n) {
    const size = statSync(files[i]).size;
    writeFileSync(files[i], seededBytes(size, k * 1_000_003 + i));
    changed += 1;
  }
  process.stderr.write(`mutate: ${changed} of ${files.length} files rewritten in ${dir}\n`);
  return changed;
}

/** The VM-image-like set: copy k of one tree (ROOT/vm<k>) gets its own 1/n of the files rewritten. */
export function vmCopies(root: string, copies: number, n: number): number {
  let changed = 0;
  for (let k = 1; k <= copies; k += 1) changed += mutate(join(root, `vm${k}`), k, n);
  return changed;
}

function positive(v: string | undefined, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what} must be a non-negative integer`);
  return n;
}

const USAGE = 'usage: guest-helper.js ceiling FILE | same-fill DEV MIB | mutate DIR K N | vm-copies ROOT C N [-- another command]...\n';

/** One command; false when it is not one. */
function runCommand([cmd, a, b, c]: string[]): boolean {
  if (cmd === 'ceiling' && a) ceiling(a);
  else if (cmd === 'same-fill' && a) sameFill(a, positive(b, 'MIB'));
  else if (cmd === 'mutate' && a) mutate(a, positive(b, 'K'), Math.max(1, positive(c, 'N')));
  else if (cmd === 'vm-copies' && a) vmCopies(a, positive(b, 'C'), Math.max(1, positive(c, 'N')));
  else return false;
  return true;
}

/** Commands separated by `--` run in one process: a node start costs seconds under emulation. */
export function splitCommands(argv: readonly string[]): string[][] {
  const out: string[][] = [[]];
  for (const arg of argv) {
    if (arg === '--') out.push([]);
    else out[out.length - 1].push(arg);
  }
  return out;
}

function main(): void {
  for (const command of splitCommands(process.argv.slice(2))) {
    if (!runCommand(command)) {
      process.stderr.write(USAGE);
      process.exitCode = 2;
      return;
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
