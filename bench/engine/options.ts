// Options of `npm run bench -- engine`. Sizes take the units parseSize knows.
import { parseArgs } from 'node:util';
import { UcError } from '../../src/util/errors.js';
import { BLOCK_BYTES, parseSize } from '../../src/util/units.js';

export interface EngineBenchOptions {
  json: boolean;
  quick: boolean;
  corpusBytes: number;
  cellBytes: number;
  memoryBytes: number;
  memorySpaceBytes: number;
  batchBlocks: number;
  seed: number;
  repeats: number;
  pin: boolean;
  matrix: boolean;
  memory: boolean;
  engine: boolean;
  rebuildCorpus: boolean;
  workDir: string | undefined;
  reportDir: string | undefined;
  /** Internal: this process is the memory-phase child. */
  memoryChild: boolean;
}

export const ENGINE_USAGE = `options:
  --json                 print one JSON object instead of the table
  --quick                small sizes for a smoke run (corpus 32M, cells 4M, memory 256M over 8G)
  --corpus-size SIZE     filesystem-like corpus from /usr (default 256M, at least 256M for the record)
  --cell-size SIZE       bytes per dedupe x compress matrix cell (default 64M)
  --memory-size SIZE     unique bytes written in the memory phase (default 8G)
  --memory-space SIZE    logical address space they are spread over (default 100G)
  --batch-blocks N       4 KiB blocks per engine write/read call (default 256 = 1 MiB)
  --seed N               seed of file selection and generators (default 1)
  --repeats N            whole ceiling passes before the engine run, median kept (default 3);
                         the targets use the ceiling timed batch by batch beside the engine
  --no-pin               do not pin the run to one CPU with taskset
  --no-matrix            skip the synthetic matrix
  --no-memory            skip the memory phase
  --no-engine            models and ceilings only (no engine runs)
  --rebuild-corpus       ignore the cached corpus image in .cache/bench/
  --work-dir DIR         where temporary pools go (default: the OS temp dir)
  --report-dir DIR       where engine.{json,md,svg} go (default bench/report/)`;

function size(text: string | undefined, fallback: number, name: string): number {
  const bytes = text === undefined ? fallback : parseSize(text);
  if (bytes <= 0 || bytes % BLOCK_BYTES !== 0) {
    throw new UcError('UC_INVALID_ARGUMENT', `--${name} must be a positive multiple of 4 KiB`);
  }
  return bytes;
}

function int(text: string | undefined, fallback: number, name: string): number {
  const n = text === undefined ? fallback : Number(text);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UcError('UC_INVALID_ARGUMENT', `--${name} must be a positive integer`);
  }
  return n;
}

export function parseEngineOptions(args: readonly string[]): EngineBenchOptions {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      'corpus-size': { type: 'string' },
      'cell-size': { type: 'string' },
      'memory-size': { type: 'string' },
      'memory-space': { type: 'string' },
      'batch-blocks': { type: 'string' },
      seed: { type: 'string' },
      repeats: { type: 'string' },
      'no-pin': { type: 'boolean', default: false },
      'no-matrix': { type: 'boolean', default: false },
      'no-memory': { type: 'boolean', default: false },
      'no-engine': { type: 'boolean', default: false },
      'rebuild-corpus': { type: 'boolean', default: false },
      'work-dir': { type: 'string' },
      'report-dir': { type: 'string' },
      'memory-child': { type: 'boolean', default: false },
    },
  });
  const quick = values.quick === true;
  const MiB = 1024 * 1024;
  const GiB = 1024 * MiB;
  return {
    json: values.json === true,
    quick,
    corpusBytes: size(values['corpus-size'], quick ? 32 * MiB : 256 * MiB, 'corpus-size'),
    cellBytes: size(values['cell-size'], quick ? 4 * MiB : 64 * MiB, 'cell-size'),
    memoryBytes: size(values['memory-size'], quick ? 256 * MiB : 8 * GiB, 'memory-size'),
    memorySpaceBytes: size(values['memory-space'], quick ? 8 * GiB : 100 * GiB, 'memory-space'),
    batchBlocks: int(values['batch-blocks'], 256, 'batch-blocks'),
    seed: int(values.seed, 1, 'seed'),
    repeats: int(values.repeats, 3, 'repeats'),
    pin: values['no-pin'] !== true,
    matrix: values['no-matrix'] !== true,
    memory: values['no-memory'] !== true,
    engine: values['no-engine'] !== true,
    rebuildCorpus: values['rebuild-corpus'] === true,
    workDir: values['work-dir'],
    reportDir: values['report-dir'],
    memoryChild: values['memory-child'] === true,
  };
}

/** The arguments that reproduce `o` (for the pinned re-exec and the memory child). */
export function formatEngineOptions(o: EngineBenchOptions): string[] {
  const out = [
    `--corpus-size=${o.corpusBytes}`,
    `--cell-size=${o.cellBytes}`,
    `--memory-size=${o.memoryBytes}`,
    `--memory-space=${o.memorySpaceBytes}`,
    `--batch-blocks=${o.batchBlocks}`,
    `--seed=${o.seed}`,
    `--repeats=${o.repeats}`,
  ];
  if (o.json) out.push('--json');
  if (o.quick) out.push('--quick');
  if (!o.pin) out.push('--no-pin');
  if (!o.matrix) out.push('--no-matrix');
  if (!o.memory) out.push('--no-memory');
  if (!o.engine) out.push('--no-engine');
  if (o.rebuildCorpus) out.push('--rebuild-corpus');
  if (o.workDir !== undefined) out.push(`--work-dir=${o.workDir}`);
  if (o.reportDir !== undefined) out.push(`--report-dir=${o.reportDir}`);
  if (o.memoryChild) out.push('--memory-child');
  return out;
}
