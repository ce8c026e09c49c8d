// Seeded fault campaign (issue 7): one corruption per case of a small real pool
// (file store + LevelDB) across both superblock copies, fragment headers and
// payloads, zeroed regions, truncation, the LevelDB WAL, tables, MANIFEST and
// CURRENT, missing and foreign metadata. Each case must end as a refusal with a
// documented code and nothing modified, or EIO on exactly the damaged blocks and
// correct bytes everywhere else (run-case.ts). Never wrong bytes.
//   FAULT_SEED=<n>   campaign seed (pool content and fault positions; default 1)
//   FAULT_CASE=<i>   replay only case i of that seed
//   FAULT_WORKERS=<n> case worker processes (default 2, one per core here)
//   FAULT_PLAN_OUT=<file>  writes the list of cases (index, kind, target) there
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { rng } from '../engine/helpers.js';
import { FAULT_KINDS, planFaults, type FaultCase, type FaultKind } from './fault-plan.js';
import { buildPristine, type Pristine } from './pristine.js';
import { CaseRunner, compileWorker } from './case-runner.js';
import { documentedCodesIn, type CaseResult, type Outcome } from './run-case.js';
import { renderTable } from './table.js';

// Pool uuids from the seed: they are stored in the metadata, so random ones would
// shift LevelDB table bytes (and the flips aimed at them) from run to run.
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  let n = 0;
  const seed = Number(process.env.FAULT_SEED ?? 1);
  const randomUUID = (): string => {
    n += 1;
    const tail = `${seed.toString(16).padStart(6, '0')}${n.toString(16).padStart(6, '0')}`.slice(-12);
    return `5eed0000-0000-4000-8000-${tail}`;
  };
  return { ...real, default: { ...real, randomUUID }, randomUUID };
});

const SEED = Number(process.env.FAULT_SEED ?? 1);
const ONLY = process.env.FAULT_CASE === undefined ? undefined : Number(process.env.FAULT_CASE);
const MIN_CASES = 200;
const WORKERS = Math.max(1, Number(process.env.FAULT_WORKERS ?? 2));

let root = '';
let pristine: Pristine;
let cases: FaultCase[] = [];
let runners: CaseRunner[] = [];
let started = 0;
const results = new Map<number, CaseResult>();

/** tmpfs when there is one: each case copies and syncs a pool, and fsync on a busy disk dominates. */
function scratchBase(): string {
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
}

function replay(c: FaultCase): string {
  return `FAULT_SEED=${SEED} FAULT_CASE=${c.index} npx vitest run test/faults/fault-campaign.test.ts`;
}

async function runKind(kind: FaultKind | undefined): Promise<void> {
  const mine = cases.filter((c) => (ONLY === undefined ? c.kind === kind : c.index === ONLY));
  const queue = [...mine];
  // Each worker process takes the next case; results are keyed by case, so order does not matter.
  await Promise.all(runners.map(async (runner) => {
    for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
      const dir = path.join(root, `case-${c.index}`);
      results.set(c.index, await runner.run(c, dir));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }));
  const failed = mine.filter((c) => results.get(c.index)?.outcome === 'FAILED').map((c) => {
    const res = results.get(c.index) as CaseResult;
    return `case ${c.index} ${c.kind} (${c.detail}; ${c.damaged.size} damaged LBAs):\n    ${res.failures.join('\n    ')}\n    replay: ${replay(c)}`;
  });
  if (failed.length > 0) console.error(`fault campaign seed ${SEED}: ${failed.length} failing case(s)\n  ${failed.join('\n  ')}`);
  expect(failed, `failing cases (seed ${SEED})`).toEqual([]);
}

describe(`fault campaign (seed ${SEED})`, () => {
  beforeAll(async () => {
    started = Date.now();
    compileWorker();
    root = fs.mkdtempSync(path.join(scratchBase(), 'uc-faults-'));
    pristine = await buildPristine(path.join(root, 'pristine'), rng(SEED));
    cases = planFaults(pristine, rng(SEED * 7919 + 1));
    const cliDoc = fs.readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');
    const context = { pristine, documentedCodes: documentedCodesIn(cliDoc) };
    runners = Array.from({ length: WORKERS }, () => new CaseRunner(context));
    if (process.env.FAULT_PLAN_OUT) fs.writeFileSync(process.env.FAULT_PLAN_OUT, cases.map((c) => `${c.index} ${c.kind} ${c.detail}`).join('\n'));
  }, 300_000);

  afterAll(() => {
    for (const r of runners) r.close();
    if (results.size > 0) {
      const byCase = cases.filter((c) => results.has(c.index)).map((c) => [c.kind, results.get(c.index) as CaseResult] as [FaultKind, CaseResult]);
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      const plan = createHash('sha256').update(cases.map((c) => `${c.kind} ${c.detail}`).join('\n')).digest('hex').slice(0, 12);
      console.log(`fault campaign seed ${SEED}: ${results.size} cases in ${secs} s (plan ${plan}, ${WORKERS} workers, restarts: ${runners.reduce((n, r) => n + r.restarts, 0)})\n${renderTable(byCase)}`);
    }
    if (root !== '') fs.rmSync(root, { recursive: true, force: true });
  });

  if (ONLY !== undefined) {
    it(`replays case ${ONLY}`, async () => {
      await runKind(undefined);
      expect(results.size).toBe(1);
    }, 120_000);
    return;
  }

  it(`plans at least ${MIN_CASES} cases over every fault kind`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(MIN_CASES);
    for (const k of FAULT_KINDS) expect(cases.some((c) => c.kind === k), k).toBe(true);
    // The pristine pool must exercise what the faults aim at.
    expect(pristine.fragments.some((f) => f.lbas.length > 1), 'a shared (deduplicated) extent').toBe(true);
    expect(pristine.segments.length).toBeGreaterThanOrEqual(4);
  });

  for (const kind of FAULT_KINDS) {
    it(`${kind}: refusal with nothing modified, or EIO on exactly the damaged blocks`, async () => {
      await runKind(kind);
    }, 300_000);
  }

  it('the control cases open intact (the harness can tell)', () => {
    const control = cases.filter((c) => c.kind === 'control').map((c) => results.get(c.index)?.outcome);
    expect(control.length).toBeGreaterThan(0);
    expect(control.every((o: Outcome | undefined) => o === 'intact')).toBe(true);
    // ...and the native read path served blocks of them itself (its check is not vacuous).
    const native = cases.filter((c) => c.kind === 'control').map((c) => results.get(c.index)?.nativeBlocks ?? 0);
    expect(Math.min(...native)).toBeGreaterThan(0);
  });
});
