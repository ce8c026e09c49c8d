// `npm run bench -- engine`: the storage engine in-process on this host. For
// each dataset (filesystem-like corpus, then the fio-like matrix): the block
// analysis, the VDO space model, the compress+hash / decompress ceilings and
// the engine's own write/read/space figures, all over the same blocks in one
// run. Then the memory phase in a child process. The whole run is pinned to one
// CPU with taskset (unless --no-pin), so MB/s figures are per core.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { BenchModule, BenchOutcome } from '../module.js';
import { benchReportDir } from '../paths.js';
import { analyzeBlocks, summarize } from './analyze.js';
import { CeilingMeter, measureCeiling } from './ceiling.js';
import { NativeCeilingMeter } from './ceiling-native.js';
import { engineDatasets } from './datasets.js';
import { engineUnavailableReason } from './engine-adapter.js';
import { runEngine } from './engine-run.js';
import { memoryChild, runMemoryPhase, type MemoryResult } from './memory-phase.js';
import { ENGINE_USAGE, formatEngineOptions, parseEngineOptions, type EngineBenchOptions } from './options.js';
import { renderText, targetsOf, writeReport, type DatasetResult, type EngineReport } from './report.js';
import { modelVdo, oracleBytes } from './vdo-model.js';

const PIN_ENV = 'UC_BENCH_PINNED_CPU';

function log(o: EngineBenchOptions, text: string): void {
  // Progress goes to stderr so `--json` keeps stdout to the one object.
  process.stderr.write(`[bench engine] ${text}\n`);
  void o;
}

function hasTaskset(): boolean {
  return spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Re-runs this benchmark under `taskset -c CPU`; returns the child's exit status. */
function runPinned(args: readonly string[], cpu: number): number {
  const mainJs = fileURLToPath(new URL('../main.js', import.meta.url));
  const r = spawnSync('taskset', ['-c', String(cpu), process.execPath, mainJs, 'engine', ...args], {
    stdio: 'inherit',
    env: { ...process.env, [PIN_ENV]: String(cpu) },
  });
  return r.status ?? 1;
}

async function runDataset(
  o: EngineBenchOptions,
  ds: ReturnType<typeof engineDatasets>[number],
  engineReason: string | undefined,
): Promise<DatasetResult> {
  const t0 = performance.now();
  const { data, note } = ds.load();
  const a = analyzeBlocks(data);
  const s = summarize(a);
  const vdoModel = modelVdo(a);
  const separate = measureCeiling(new NativeCeilingMeter(data, a), data, a, o.repeats, o.batchBlocks);
  const reference = measureCeiling(new CeilingMeter(data, a), data, a, o.repeats, o.batchBlocks);
  log(o, `${ds.name}: ${note}; model and ceiling in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const result: DatasetResult = {
    name: ds.name,
    description: ds.description,
    note,
    logicalBytes: data.length,
    analysis: s,
    dedupFraction: (s.duplicateBlocks - duplicateSameFill(a)) / s.blockCount,
    sameFillFraction: s.sameFillBlocks / s.blockCount,
    vdoModel,
    vdoModelRatio: vdoModel.ratio,
    oracleRatio: data.length / Math.max(1, oracleBytes(a)),
    ceiling: separate,
    ceilingSeparate: separate,
    ceilingReference: reference,
  };
  if (o.engine && engineReason === undefined) {
    const t1 = performance.now();
    const meter = new NativeCeilingMeter(data, a);
    const referenceMeter = new CeilingMeter(data, a);
    const e = await runEngine(data, { batchBlocks: o.batchBlocks, workDir: o.workDir, meter, referenceMeter });
    // The paired ceiling is the one the targets use: same batches, same moments.
    const ceiling = e.pairedCeiling ?? separate;
    result.ceiling = ceiling;
    result.ceilingReference = e.pairedCeilingReference ?? reference;
    result.engine = e;
    result.ratio = e.ratio;
    result.oursOverVdo = e.physicalDataBytes / vdoModel.physicalBytes;
    result.writeOfCeiling = e.writeMBps / ceiling.writeMBps;
    result.readOfCeiling = e.readMBps / ceiling.readMBps;
    result.writeOfCeilingSeparate = e.writeMBps / separate.writeMBps;
    result.readOfCeilingSeparate = e.readMBps / separate.readMBps;
    log(o, `${ds.name}: engine write ${e.writeMBps.toFixed(1)} MB/s, read ${e.readMBps.toFixed(1)} MB/s ` +
      `(${e.readPaths.native} requests native, ${e.readPaths.js} to JS; cache warm-up ${e.loadMs.toFixed(0)} ms before), ` +
      `ratio ${e.ratio.toFixed(3)} in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  }
  return result;
}

/** Duplicates that are also same-filled: they count as same-fill, not as dedup. */
function duplicateSameFill(a: ReturnType<typeof analyzeBlocks>): number {
  let n = 0;
  for (let i = 0; i < a.blockCount; i += 1) if ((a.flags[i] & 6) === 6) n += 1;
  return n;
}

async function runBench(o: EngineBenchOptions): Promise<EngineReport> {
  const startedAt = new Date();
  const loadAvgStart = os.loadavg();
  const t0 = performance.now();
  const engineReason = o.engine ? await engineUnavailableReason() : 'disabled by --no-engine';
  if (engineReason) log(o, `engine not run: ${engineReason}`);
  const datasets: DatasetResult[] = [];
  for (const ds of engineDatasets(o)) datasets.push(await runDataset(o, ds, engineReason));
  let memory: MemoryResult | null = null;
  if (o.memory && engineReason === undefined) {
    log(o, `memory phase: ${o.memoryBytes} bytes over ${o.memorySpaceBytes}`);
    memory = await runMemoryPhase(o);
  }
  const head = datasets[0];
  return {
    bench: 'engine',
    startedAt: startedAt.toISOString(),
    durationS: (performance.now() - t0) / 1000,
    host: {
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      cpus: os.cpus().length,
      node: process.version,
      pinnedCpu: process.env[PIN_ENV] ?? null,
      loadAvgStart,
      loadAvgEnd: os.loadavg(),
    },
    options: { ...o },
    headlineDataset: head.name,
    ratio: head.ratio ?? null,
    vdoModelRatio: head.vdoModelRatio,
    oursOverVdo: head.oursOverVdo ?? null,
    writeMBps: head.engine?.writeMBps ?? null,
    readMBps: head.engine?.readMBps ?? null,
    ceilingWriteMBps: head.ceiling.writeMBps,
    ceilingReadMBps: head.ceiling.readMBps,
    writeOfCeiling: head.writeOfCeiling ?? null,
    readOfCeiling: head.readOfCeiling ?? null,
    writeOfCeilingSeparate: head.writeOfCeilingSeparate ?? null,
    readOfCeilingSeparate: head.readOfCeilingSeparate ?? null,
    rssMiB: memory?.rssMiBPeak ?? null,
    metaBytesPerGiB: memory?.metaBytesPerGiB ?? null,
    targets: targetsOf(head, memory),
    datasets,
    memory,
    engineUnavailable: engineReason ?? null,
  };
}

function headlineOf(r: EngineReport): string[] {
  const f = (v: number | null, d = 2): string => (v === null ? 'n/a' : v.toFixed(d));
  return [
    `${r.headlineDataset}: ratio ${f(r.ratio)} vs VDO model ${f(r.vdoModelRatio)} (ours/VDO ${f(r.oursOverVdo, 3)})`,
    `write ${f(r.writeMBps, 1)} MB/s of ceiling ${f(r.ceilingWriteMBps, 1)}; ` +
      `read ${f(r.readMBps, 1)} MB/s of ceiling ${f(r.ceilingReadMBps, 1)}`,
    `peak RSS ${f(r.rssMiB, 1)} MiB; metadata ${f(r.metaBytesPerGiB, 0)} B per GiB written`,
  ];
}

async function run(args: readonly string[]): Promise<BenchOutcome> {
  const o = parseEngineOptions(args);
  if (o.memoryChild) {
    process.stdout.write(JSON.stringify(await memoryChild(o)) + '\n');
    return { reportFiles: [], headline: [] };
  }
  const reportDir = o.reportDir ?? benchReportDir();
  if (o.pin && process.env[PIN_ENV] === undefined && hasTaskset()) {
    const cpu = os.cpus().length - 1;
    const status = runPinned(formatEngineOptions(o), cpu);
    if (status !== 0) throw new Error(`pinned engine benchmark exited with status ${status}`);
    const r = JSON.parse(readFileSync(join(reportDir, 'engine.json'), 'utf8')) as EngineReport;
    const files = ['engine.json', 'engine.md', 'engine.svg'].map((f) => join(reportDir, f));
    return { reportFiles: files, headline: headlineOf(r) };
  }
  const report = await runBench(o);
  const files = writeReport(report, reportDir);
  process.stdout.write(o.json ? JSON.stringify(report) + '\n' : renderText(report));
  return { reportFiles: files, headline: headlineOf(report) };
}

export const engineBench: BenchModule = {
  summary: 'BlockEngine in-process: ratio vs a VDO model, MB/s vs the lz4+xxh128 ceilings, RSS',
  usage: ENGINE_USAGE,
  unavailableReason: async () => undefined,
  run,
};
