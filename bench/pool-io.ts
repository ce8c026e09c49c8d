// `npm run bench -- pool-io`: 4 KiB random reads of a pool-sized file through
// src/io's BackingFile, over node:fs (libuv thread pool) and over io_uring,
// at a few queue depths. The file is written first, so reads come from the
// page cache as most pool reads of a serving daemon do. Writes
// bench/report/pool-io.{json,md}.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openBackingFile, type BackingFile } from '../src/io/index.js';
import { parseSize } from '../src/util/units.js';
import type { BenchModule, BenchOutcome } from './module.js';
import { benchReportDir } from './paths.js';

const BLOCK = 4096;
const USAGE = [
  'options:',
  '  --dir DIR         where the test file goes (default: the OS temp dir)',
  '  --file-size SIZE  file size (default 256M)',
  '  --seconds N       seconds per transport and depth (default 3)',
  '  --depths LIST     queue depths (default 1,16)',
  '  --json            print only the JSON object',
].join('\n');

interface Row {
  transport: 'node' | 'ring';
  depth: number;
  iops: number;
  MBps: number;
}

/** A small deterministic generator: the same offsets for both transports. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x;
  };
}

async function measure(file: BackingFile, depth: number, seconds: number): Promise<number> {
  const blocks = file.sizeBytes / BLOCK;
  const next = lcg(depth);
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const worker = async (): Promise<void> => {
    const buf = Buffer.allocUnsafe(BLOCK);
    while (performance.now() < deadline) {
      await file.pread(buf, 0, BLOCK, (next() % blocks) * BLOCK);
      done += 1;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: depth }, worker));
  return done / ((performance.now() - started) / 1000);
}

function render(rows: Row[], fileBytes: number, dir: string): string {
  const lines = [
    `# pool-io: 4 KiB random pread, ${fileBytes / 2 ** 20} MiB file in ${dir} (page cache warm)`,
    '',
    '| transport | depth | IOPS | MB/s | ring / node |',
    '|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const node = rows.find((x) => x.transport === 'node' && x.depth === r.depth);
    const ratio = r.transport === 'ring' && node ? `${(r.iops / node.iops).toFixed(2)}x` : '';
    lines.push(`| ${r.transport} | ${r.depth} | ${Math.round(r.iops)} | ${r.MBps.toFixed(1)} | ${ratio} |`);
  }
  return lines.join('\n') + '\n';
}

async function run(args: readonly string[]): Promise<BenchOutcome> {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    options: {
      dir: { type: 'string' },
      'file-size': { type: 'string', default: '256M' },
      seconds: { type: 'string', default: '3' },
      depths: { type: 'string', default: '1,16' },
      json: { type: 'boolean', default: false },
    },
  });
  const fileBytes = parseSize(values['file-size']);
  const seconds = Number(values.seconds);
  const depths = values.depths.split(',').map(Number);
  const work = mkdtempSync(join(values.dir ?? tmpdir(), 'uc-bench-pool-io-'));
  const rows: Row[] = [];
  try {
    const path = join(work, 'pool');
    const seed = await openBackingFile(path, { create: true, sizeBytes: fileBytes });
    const chunk = Buffer.alloc(1 << 20, 0x5a);
    for (let at = 0; at < fileBytes; at += chunk.length) await seed.pwrite(chunk, 0, chunk.length, at);
    await seed.close();
    for (const depth of depths) {
      for (const transport of ['node', 'ring'] as const) {
        const file = await openBackingFile(path, { transport });
        const iops = await measure(file, depth, seconds);
        await file.close();
        rows.push({ transport, depth, iops, MBps: (iops * BLOCK) / 1e6 });
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const md = render(rows, fileBytes, values.dir ?? tmpdir());
  const report = benchReportDir();
  mkdirSync(report, { recursive: true });
  writeFileSync(join(report, 'pool-io.json'), JSON.stringify({ fileBytes, seconds, rows }, null, 2) + '\n');
  writeFileSync(join(report, 'pool-io.md'), md);
  process.stdout.write(values.json ? JSON.stringify(rows) + '\n' : md);
  const headline = rows.filter((r) => r.transport === 'ring').map((r) => `pool-io QD${r.depth}: ring ${Math.round(r.iops)} IOPS`);
  return { reportFiles: ['bench/report/pool-io.json', 'bench/report/pool-io.md'], headline };
}

export const poolIoBench: BenchModule = {
  summary: '4 KiB random pread of a pool file: node:fs vs io_uring (src/io)',
  usage: USAGE,
  unavailableReason: async () => undefined,
  run,
};
