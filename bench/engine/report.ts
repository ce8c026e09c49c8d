// Assembles the engine benchmark's figures into one JSON object, a text table
// for stdout, a markdown page and an SVG chart of ratios (ours vs VDO model).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { renderBarChart } from '../render/svg-bars.js';
import { markdownTable, textTable, type Cell } from '../render/table.js';
import { repoRoot } from '../paths.js';
import type { AnalysisSummary } from './analyze.js';
import type { CeilingResult } from './ceiling.js';
import type { EngineRunResult } from './engine-run.js';
import type { MemoryResult } from './memory-phase.js';
import type { VdoModelResult } from './vdo-model.js';

export interface DatasetResult {
  name: string;
  description: string;
  note: string;
  logicalBytes: number;
  analysis: AnalysisSummary;
  /** Share of blocks that exactly repeat an earlier block (same-filled excluded). */
  dedupFraction: number;
  sameFillFraction: number;
  vdoModel: VdoModelResult;
  vdoModelRatio: number;
  /** Byte-exact per-block lz4 bound (see vdo-model.ts oracleBytes). */
  oracleRatio: number;
  /** The ceiling the targets use: paired with the engine run when it ran. */
  ceiling: CeilingResult;
  /** Whole passes before the engine run (median of --repeats). */
  ceilingSeparate: CeilingResult;
  /** The ceiling with lz4-napi + xxhash-addon (paired when the engine ran): shows how
   * much of a ceiling change is the library, not the engine. */
  ceilingReference: CeilingResult;
  engine?: EngineRunResult;
  ratio?: number;
  /** Our physical data bytes / the VDO model's physical bytes. */
  oursOverVdo?: number;
  writeOfCeiling?: number;
  readOfCeiling?: number;
  /** The same against ceilingSeparate (engine background work cannot overlap it). */
  writeOfCeilingSeparate?: number;
  readOfCeilingSeparate?: number;
}

export interface Target {
  name: string;
  value: number | null;
  limit: string;
  pass: boolean | null;
}

export interface EngineReport {
  bench: 'engine';
  startedAt: string;
  durationS: number;
  host: {
    cpuModel: string;
    cpus: number;
    node: string;
    pinnedCpu: string | null;
    loadAvgStart: number[];
    loadAvgEnd: number[];
  };
  options: Record<string, unknown>;
  headlineDataset: string;
  ratio: number | null;
  vdoModelRatio: number;
  oursOverVdo: number | null;
  writeMBps: number | null;
  readMBps: number | null;
  ceilingWriteMBps: number;
  ceilingReadMBps: number;
  writeOfCeiling: number | null;
  readOfCeiling: number | null;
  writeOfCeilingSeparate: number | null;
  readOfCeilingSeparate: number | null;
  rssMiB: number | null;
  metaBytesPerGiB: number | null;
  targets: Target[];
  datasets: DatasetResult[];
  memory: MemoryResult | null;
  engineUnavailable: string | null;
}

export function targetsOf(head: DatasetResult, memory: MemoryResult | null): Target[] {
  const t = (name: string, value: number | undefined | null, limit: string, ok: (v: number) => boolean): Target => ({
    name,
    value: value ?? null,
    limit,
    pass: value === undefined || value === null ? null : ok(value),
  });
  return [
    t('writes / compress+hash ceiling', head.writeOfCeiling, '>= 0.60', (v) => v >= 0.6),
    t('reads / decompress ceiling', head.readOfCeiling, '>= 0.70', (v) => v >= 0.7),
    t('physical data / VDO model', head.oursOverVdo, '<= 0.90', (v) => v <= 0.9),
    t('peak RSS MiB (memory phase)', memory?.rssMiBPeak, '<= 256', (v) => v <= 256),
  ];
}

const HEADER = ['dataset', 'logical MiB', 'dedup', 'same-fill', 'ratio', 'VDO ratio', 'oracle', 'ours/VDO',
  'meta MiB', 'write MB/s', 'overwr MB/s', 'ceil W', 'napi W', 'W/ceil', 'W/sep', 'read MB/s', 'ceil R', 'napi R', 'R/ceil', 'R/sep'];

function rowOf(d: DatasetResult): Cell[] {
  const MiB = 1024 * 1024;
  const e = d.engine;
  const na = 'n/a';
  return [
    d.name,
    d.logicalBytes / MiB,
    d.dedupFraction,
    d.sameFillFraction,
    d.ratio ?? na,
    d.vdoModelRatio,
    d.oracleRatio,
    d.oursOverVdo ?? na,
    e ? e.metaBytes / MiB : na,
    e ? e.writeMBps : na,
    e ? e.overwrite.writeMBps : na,
    d.ceiling.writeMBps,
    d.ceilingReference.writeMBps,
    d.writeOfCeiling ?? na,
    d.writeOfCeilingSeparate ?? na,
    e ? e.readMBps : na,
    d.ceiling.readMBps,
    d.ceilingReference.readMBps,
    d.readOfCeiling ?? na,
    d.readOfCeilingSeparate ?? na,
  ];
}

function memoryLines(m: MemoryResult | null): string[] {
  if (m === null) return ['memory phase: not run'];
  const GiB = 1024 ** 3;
  return [
    `memory phase: ${(m.writtenBytes / GiB).toFixed(2)} GiB unique blocks over ` +
      `${(m.logicalSpaceBytes / GiB).toFixed(0)} GiB: peak RSS ${m.rssMiBPeak.toFixed(1)} MiB ` +
      `(start ${m.rssMiBStart.toFixed(1)}, end ${m.rssMiBEnd.toFixed(1)}; at peak JS heap used <= ` +
      `${m.heapUsedMiBPeak.toFixed(1)}, Buffers <= ${(m.arrayBuffersMiBPeak ?? NaN).toFixed(1)}, ` +
      `native ~${(m.nativeMiBAtPeak ?? NaN).toFixed(1)}), ` +
      `metadata ${(m.metaBytesPerGiB / 1024 / 1024).toFixed(3)} MiB per GiB written ` +
      `(${m.metaBytesPerGiB.toFixed(0)} B/GiB), ${m.writeMBps.toFixed(1)} MB/s`,
    `RSS MiB after each GiB written: ${(m.rssMiBPerGiBWritten ?? []).map((v) => v.toFixed(0)).join(' ')}`,
  ];
}

function targetLines(targets: Target[]): string[] {
  return targets.map((t) => {
    const v = t.value === null ? 'n/a' : t.value.toFixed(3);
    const verdict = t.pass === null ? 'not measured' : t.pass ? 'PASS' : 'MISS';
    return `${verdict.padEnd(12)} ${t.name}: ${v} (target ${t.limit})`;
  });
}

function loadText(l: number[]): string {
  return l.map((v) => v.toFixed(2)).join(' ');
}

export function renderText(r: EngineReport): string {
  const lines = [
    `engine benchmark (${r.host.cpuModel}, ${r.host.pinnedCpu ? `pinned to CPU ${r.host.pinnedCpu}` : 'not pinned'}, ` +
      `load ${loadText(r.host.loadAvgStart)} -> ${loadText(r.host.loadAvgEnd)})`,
    '',
    textTable(HEADER, r.datasets.map(rowOf)),
    '',
    ...memoryLines(r.memory),
    '',
    ...targetLines(r.targets),
  ];
  if (r.engineUnavailable) lines.push('', `engine not run: ${r.engineUnavailable}`);
  return lines.join('\n') + '\n';
}

export function renderMarkdown(r: EngineReport): string {
  return [
    '# Engine benchmark',
    '',
    `Run ${r.startedAt} (${r.durationS.toFixed(0)} s) on ${r.host.cpuModel}, Node ${r.host.node}, ` +
      (r.host.pinnedCpu ? `pinned to CPU ${r.host.pinnedCpu} (one core).` : 'not pinned.') +
      ` Load average ${loadText(r.host.loadAvgStart)} at the start, ${loadText(r.host.loadAvgEnd)} at the end` +
      ' (a shared machine: absolute MB/s are indicative, ratios within the run are the figures).',
    '',
    '![ratios](engine.svg)',
    '',
    markdownTable(HEADER, r.datasets.map(rowOf)),
    '',
    ...memoryLines(r.memory),
    '',
    '## Targets',
    '',
    ...targetLines(r.targets).map((l) => `- ${l}`),
    '',
    '## Definitions',
    '',
    '- ratio: logical bytes / allocated bytes of the pool file (data only; metadata is the LevelDB',
    '  directory after close and a full compaction, shown apart).',
    '- VDO ratio: logical bytes / physical bytes of the dm-vdo space model (zero blocks free, exact',
    '  dedup, lz4 fragments <= 4,059 B packed by 16 first-best-fit bins into 4 KiB blocks of at most',
    '  14 fragments in 4,060 B, unpaired fragments raw, one flush at the end).',
    '- oracle: exact dedup, same-filled blocks free, each distinct block lz4-compressed alone and',
    '  packed byte-exact without headers (raw when lz4 does not shrink it): the floor for any store',
    '  that compresses 4 KiB blocks one at a time.',
    '- ceilings (ceil W / ceil R): the batch calls the engine makes, with its library (liblz4 +',
    '  libxxhash in the addon: one same-fill + XXH128 call and one lz4 call per batch, one decode',
    '  call per batch on reads), on the same blocks, one core; napi W / napi R: the same work with',
    '  lz4-napi + xxhash-addon, one call per block (the library before issue 9). Both are timed',
    '  batch by batch right beside the engine call for the same batch (order alternating), so load',
    '  changes on this shared machine hit both sides alike (the JSON also has ceilingSeparate:',
    '  whole passes before the engine run, median of --repeats; W/sep and R/sep use it): write = XXH128 of every non-same-filled block + lz4 of each distinct',
    '  content once; read = lz4 decode (or 4 KiB copy when stored raw) of every non-same-filled block.',
    '- write MB/s: batches of --batch-blocks (default 256) through BlockEngine.write, the final flush included. read MB/s:',
    '  the pool reopened, its metadata cache warmed from LevelDB (the scans after open; their time is in',
    '  the log and the JSON as loadMs, not in the figure), then the same batches read as a packed device',
    '  reads: the addon\'s native read path (PackedTables.probeRead, the queue\'s code without ublk), a',
    '  request it hands back read by the engine in JavaScript (counts in the JSON as readPaths).',
    '- dedup: share of blocks that repeat an earlier block exactly; same-fill: share of blocks that',
    '  are one 8-byte pattern (zeros included).',
    '',
    '## Datasets',
    '',
    ...r.datasets.map((d) => `- ${d.name}: ${d.description} (${d.note})`),
    '',
  ].join('\n');
}

export function renderChart(r: EngineReport): string {
  return renderBarChart({
    title: 'Reduction ratio per dataset: ours vs VDO model (higher is better)',
    yLabel: 'logical / physical data bytes',
    categories: r.datasets.map((d) => d.name),
    series: [
      { name: 'ours', color: '#2a7ab9', values: r.datasets.map((d) => d.ratio ?? NaN) },
      { name: 'VDO model', color: '#d9822b', values: r.datasets.map((d) => d.vdoModelRatio) },
    ],
  });
}

/** Writes engine.json, engine.md and engine.svg; returns their repo-relative paths. */
export function writeReport(r: EngineReport, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files: [string, string][] = [
    ['engine.json', JSON.stringify(r, null, 2) + '\n'],
    ['engine.md', renderMarkdown(r)],
    ['engine.svg', renderChart(r)],
  ];
  return files.map(([name, text]) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return relative(repoRoot(), path);
  });
}
