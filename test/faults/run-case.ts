// Runs one fault case: fresh copy of the pristine directory, the fault, the CLI's
// `check` (which must not modify anything), then open + read every LBA through the
// engine's public API, and classifies what happened.
//   refused: open threw a documented UcError and every file is byte-identical
//   eio:     opened; EIO on some damaged blocks, correct bytes on all the others
//   intact:  opened; every block correct
// Anything else is a failure, listed in `failures` (wrong bytes, EIO on an
// undamaged block, an undocumented error, a refusal or check that modified files,
// a hang, a check that calls damaged data clean).
// An opened pool is then read once more through the packed native read path
// (the addon's lookups, pool reads and checks, without ublk): each block it
// serves itself must hold the right bytes; damaged ones must go to JS.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { exitCodeOf, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../../src/cli/exit-codes.js';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { openPool, type BlockEngine } from '../../src/engine/index.js';
import { IoRing, PackedTables } from '../../src/native/index.js';
import { UcError } from '../../src/util/errors.js';
import { SUPERBLOCK_BYTES } from '../../src/pool/format.js';
import { BLOCK_BYTES } from '../../src/util/units.js';
import { applyFault, isPoolFault, type FaultCase } from './fault-plan.js';
import { ENGINE_OPTS, LOGICAL_BLOCKS, POOL_NAME, type Pristine } from './pristine.js';
import { snapshotDiff, snapshotTree } from './snapshot.js';

export type Outcome = 'refused' | 'eio' | 'intact' | 'FAILED';

/** The tag in brackets that starts every failure text ("[WRONG-BYTES] ..."). */
export function failureTag(text: string): string {
  return /^\[([^\]]+)\]/.exec(text)?.[1] ?? 'other';
}

/** What every case needs: the pristine pool and the error codes docs/cli.md documents. */
export interface CaseContext {
  pristine: Pristine;
  /** Codes named in docs/cli.md; an entry ending in '*' is a prefix (`UC_POOL_*`). */
  documentedCodes: string[];
}

/** The UcError codes a user can look up: every `UC_...` docs/cli.md names. */
export function documentedCodesIn(cliDoc: string): string[] {
  return [...new Set([...cliDoc.matchAll(/`(UC_[A-Z_]+\*?)`/g)].map((m) => m[1]))];
}

function isDocumented(code: string, documented: readonly string[]): boolean {
  return documented.some((d) => (d.endsWith('*') ? code.startsWith(d.slice(0, -1)) : code === d));
}

export interface CaseResult {
  outcome: Outcome;
  /** UcError code of a refusal. */
  code?: string;
  eioBlocks: number;
  /** Damaged blocks that still read back exactly right (e.g. an lz4 flip that decodes the same). */
  damagedCorrect?: number;
  /** Blocks the native read path served itself (the rest it handed to JS). */
  nativeBlocks?: number;
  checkExit: number;
  failures: string[];
}

const STEP_TIMEOUT_MS = 20_000;

async function bounded<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HANG: ${what} did not finish in ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
  });
  try {
    return await Promise.race([p, hang]);
  } finally {
    clearTimeout(timer);
  }
}

function describeError(err: unknown): string {
  if (err instanceof UcError) return `${err.code}: ${err.message}`;
  const e = err as { name?: string; code?: string; message?: string };
  return `${e?.name ?? 'Error'}${e?.code ? ` ${e.code}` : ''}: ${e?.message ?? String(err)}`;
}

/** A refusal a user can act on: a UcError with its own exit status (not 1 or 2). */
function isSpecificRefusal(err: unknown): err is UcError {
  if (!(err instanceof UcError)) return false;
  const exit = exitCodeOf(err);
  return exit !== EXIT_FAILURE && exit !== EXIT_USAGE && err.code !== 'UC_IO';
}

function freshCopy(p: Pristine, c: FaultCase, dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.cpSync(p.dir, dir, { recursive: true });
  applyFault(c, dir);
}

async function runCheck(dir: string, c: FaultCase, failures: string[]): Promise<number> {
  const before = snapshotTree(dir);
  const io = memoryIo();
  const exit = await bounded(main(['check', '--backing', path.join(dir, POOL_NAME), '--meta', path.join(dir, c.metaDir), '--json'], io), 'check');
  if (exit === EXIT_FAILURE || exit === EXIT_USAGE) failures.push(`[check-error] check exited ${exit}: ${io.stderr.join('').trim()}`);
  const changed = snapshotDiff(before, snapshotTree(dir));
  if (changed.length > 0) failures.push(`[check-modified] check modified files: ${changed.join(' ')}`);
  return exit;
}

/** The pool file past its superblock region, hashed: what `check --repair` must never touch. */
function poolBodyHash(dir: string): string {
  const b = fs.readFileSync(path.join(dir, POOL_NAME));
  return createHash('sha256').update(b.subarray(SUPERBLOCK_BYTES)).digest('hex');
}

/** One intact superblock copy: `check --repair` rewrites the other from it, touching
 * nothing but the superblock region, and check then calls the pool clean. */
async function checkRepair(dir: string, c: FaultCase, failures: string[]): Promise<void> {
  const args = ['check', '--backing', path.join(dir, POOL_NAME), '--meta', path.join(dir, c.metaDir)];
  const before = snapshotTree(dir);
  const body = poolBodyHash(dir);
  const io = memoryIo();
  const exit = await bounded(main([...args, '--repair'], io), 'check --repair');
  const changed = snapshotDiff(before, snapshotTree(dir)).filter((d) => d !== `~${POOL_NAME}`);
  if (poolBodyHash(dir) !== body) changed.push(`${POOL_NAME} beyond its superblock`);
  if (changed.length > 0) failures.push(`[repair-modified] check --repair changed more than the superblock: ${changed.join(' ')}`);
  const again = memoryIo();
  const after = await bounded(main(args, again), 'check after --repair');
  if (exit !== EXIT_OK || after !== EXIT_OK) {
    failures.push(`[repair-failed] check --repair exited ${exit} (${io.stderr.join('').trim()}); check afterwards exited ${after}: ${again.stdout.join('').trim().split('\n').slice(-2).join(' | ')}`);
  }
}

/** Groups per-block read failures by tag so a case reports one line per kind of failure. */
class ReadFailures {
  private readonly byTag = new Map<string, { lbas: number[]; sample: string }>();
  add(tag: string, lba: number, what: string): void {
    const g = this.byTag.get(tag) ?? { lbas: [], sample: what };
    g.lbas.push(lba);
    this.byTag.set(tag, g);
  }
  flush(failures: string[]): void {
    for (const [tag, g] of this.byTag) {
      const list = `${g.lbas.slice(0, 12).join(', ')}${g.lbas.length > 12 ? ', ...' : ''}`;
      failures.push(`[${tag}] ${g.lbas.length} block(s) (lba ${list}): ${g.sample}`);
    }
  }
}

/** Reads every LBA (whole device first, block by block when that fails). */
async function readAll(e: BlockEngine, p: Pristine, c: FaultCase, failures: string[]): Promise<{ eio: number; damagedCorrect: number }> {
  const all = Buffer.alloc(LOGICAL_BLOCKS * BLOCK_BYTES);
  let whole = true;
  try {
    await bounded(e.read(0, LOGICAL_BLOCKS, all), 'read of the whole device');
  } catch {
    whole = false;
  }
  let eio = 0;
  let damagedCorrect = 0;
  const bad = new ReadFailures();
  for (let lba = 0; lba < LOGICAL_BLOCKS; lba++) {
    let got = all.subarray(lba * BLOCK_BYTES, (lba + 1) * BLOCK_BYTES);
    if (!whole) {
      got = Buffer.alloc(BLOCK_BYTES);
      try {
        await bounded(e.read(lba, 1, got), `read of lba ${lba}`);
      } catch (err) {
        // Any UcError reaches the kernel as an I/O error; anything else is a bug.
        if (!(err instanceof UcError)) bad.add('undocumented-error', lba, `read failed with ${describeError(err)}`);
        else if (c.damaged.has(lba)) eio += 1;
        else if (isPoolFault(c.kind)) bad.add('eio-undamaged', lba, `EIO on an undamaged block (${describeError(err)})`);
        else bad.add('meta-read-error', lba, `the metadata fault surfaced at read time, not as a refusal at open (${describeError(err)})`);
        continue;
      }
    }
    if (!got.equals(p.expected[lba])) bad.add('WRONG-BYTES', lba, 'wrong bytes returned');
    else if (c.damaged.has(lba)) damagedCorrect += 1;
  }
  bad.flush(failures);
  return { eio, damagedCorrect };
}

/** Reads every LBA through the native read path; returns the blocks it served itself. */
async function readAllNative(e: BlockEngine, tables: PackedTables, p: Pristine, failures: string[]): Promise<number> {
  const geometry = e.shareNativeReads(tables);
  if (geometry === undefined || geometry.poolFd < 0) {
    failures.push('[native-unavailable] the engine did not share its tables with a pool descriptor');
    return 0;
  }
  const ring = new IoRing({ entries: 8 });
  const bad = new ReadFailures();
  let served = 0;
  try {
    const got = Buffer.alloc(BLOCK_BYTES);
    for (let lba = 0; lba < LOGICAL_BLOCKS; lba++) {
      const r = await bounded(tables.probeRead(ring, geometry, lba, 1, got), `native read of lba ${lba}`);
      if (r === 'js') continue;
      served += 1;
      if (!got.equals(p.expected[lba])) bad.add('WRONG-BYTES-NATIVE', lba, 'the native read path returned wrong bytes');
    }
  } finally {
    tables.closeProbes(); // false only after a read that never ended (reported above)
    ring.close();
  }
  bad.flush(failures);
  return served;
}

/** `phase` is told each step before it starts (a worker that dies then says where). */
export async function runCase(ctx: CaseContext, c: FaultCase, dir: string, phase: (what: string) => void = () => undefined): Promise<CaseResult> {
  const p = ctx.pristine;
  const failures: string[] = [];
  freshCopy(p, c, dir);
  phase('check');
  const checkExit = await runCheck(dir, c, failures);
  // Open exactly the faulted state, even if check changed it.
  if (failures.some((f) => failureTag(f) === 'check-modified')) freshCopy(p, c, dir);
  const before = snapshotTree(dir);
  const names = new Set(fs.readdirSync(dir));
  let engine: BlockEngine;
  phase('open');
  try {
    engine = await bounded(openPool({ backingPath: path.join(dir, POOL_NAME), metaDir: path.join(dir, c.metaDir), ...ENGINE_OPTS }), 'open');
  } catch (err) {
    const changed = snapshotDiff(before, snapshotTree(dir));
    if (!isSpecificRefusal(err)) failures.push(`[undocumented-error] open failed with ${describeError(err)}`);
    else if (!isDocumented(err.code, ctx.documentedCodes)) failures.push(`[undocumented-code] ${err.code} is not in docs/cli.md's table`);
    if (changed.length > 0) failures.push(`[refusal-modified] refusal modified files: ${changed.join(' ')}`);
    if (checkExit === EXIT_OK) failures.push(`[check-missed] open refused (${describeError(err)}) but check called the pool clean`);
    const code = err instanceof UcError ? err.code : undefined;
    if (c.kind === 'sb-copy0' || c.kind === 'sb-copy1') failures.push(`[refused-good-copy] one superblock copy is intact, yet open refused: ${describeError(err)}`);
    return { outcome: failures.length > 0 ? 'FAILED' : 'refused', code, eioBlocks: 0, checkExit, failures };
  }
  let eioBlocks = 0;
  let damagedCorrect = 0;
  let nativeBlocks = 0;
  const tables = new PackedTables();
  phase('reading every block');
  try {
    ({ eio: eioBlocks, damagedCorrect } = await readAll(engine, p, c, failures));
    phase('reading every block natively');
    nativeBlocks = await readAllNative(engine, tables, p, failures);
  } finally {
    phase('close');
    await bounded(engine.close(), 'close').catch((err: unknown) => failures.push(`[close-failed] close failed: ${describeError(err)}`));
  }
  const left = fs.readdirSync(dir).filter((n) => !names.has(n));
  if (left.length > 0) failures.push(`[leftover-files] open/close left ${left.join(' ')} beside the pool`);
  if (eioBlocks > 0 && checkExit === EXIT_OK) failures.push(`[check-missed] ${eioBlocks} block(s) read as EIO but check called the pool clean`);
  if ((c.kind === 'sb-copy0' || c.kind === 'sb-copy1') && checkExit === EXIT_OK) failures.push('[check-missed] check did not report the damaged superblock copy');
  if (c.kind === 'sb-copy0' || c.kind === 'sb-copy1') {
    freshCopy(p, c, dir);
    phase('check --repair');
    await checkRepair(dir, c, failures);
  }
  if (c.kind === 'control' && checkExit !== EXIT_OK) failures.push(`[check-false-alarm] check exited ${checkExit} on an undamaged pool`);
  const outcome: Outcome = failures.length > 0 ? 'FAILED' : eioBlocks > 0 ? 'eio' : 'intact';
  return { outcome, eioBlocks, damagedCorrect, nativeBlocks, checkExit, failures };
}
