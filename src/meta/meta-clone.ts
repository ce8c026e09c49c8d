// Opening metadata without modifying it. LevelDB cannot open read-only: recovery
// rewrites the log into a table, starts a new MANIFEST and log, and appends to LOG.
// So `check`, and the validation an open does before it decides to serve, run on a
// private clone: the immutable table files (*.ldb, *.sst) hard-linked (copied when
// links are impossible), the small mutable ones (CURRENT, MANIFEST-*, *.log)
// copied, LOCK and LOG skipped. The clone lives beside the metadata directory
// (same filesystem, so links work), else in the temp directory, never inside it.
//
// LevelDB holds a POSIX lock on LOCK while open; a clone would not see that, so
// lockHolder() reads /proc/locks to refuse metadata another process has open.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UcError } from '../util/errors.js';
import { LevelMetaStore } from './level-store.js';
import { findLogCut, applyLogCut, type LogCut } from './log-scan.js';
import { tableDamage } from './table-verify.js';

export interface MetaClone {
  readonly dir: string;
  /** Deletes the clone (idempotent; never touches the original). */
  remove(): void;
}

const TABLE_FILE = /\.(ldb|sst)$/;
/** Not LevelDB's state: its lock and logs, and the engine's write journal. */
const SKIPPED = new Set(['LOCK', 'LOG', 'LOG.old', 'journal-0', 'journal-1']);

/** Makes a private clone of LevelDB directory `src`. */
export function cloneMetaDir(src: string): MetaClone {
  const names = listDir(src);
  const dir = makeCloneDir(src);
  const remove = (): void => fs.rmSync(dir, { recursive: true, force: true });
  try {
    for (const name of names) {
      if (SKIPPED.has(name)) continue;
      const from = path.join(src, name);
      if (!fs.lstatSync(from).isFile()) continue;
      const to = path.join(dir, name);
      if (TABLE_FILE.test(name)) linkOrCopy(from, to);
      else fs.copyFileSync(from, to);
    }
  } catch (err) {
    remove();
    throw cloneError(err, src);
  }
  return { dir, remove };
}

export interface CloneOptions {
  /** Let LevelDB open damaged tables (`check`, which reports them itself). */
  allowTableDamage?: boolean;
}

/** Opens a clone of `metaDir`, runs `fn` on it, closes and deletes the clone. Refuses
 * metadata open elsewhere and, unless allowed, a table block failing its checksum
 * (table-verify.ts), before LevelDB opens anything: LevelDB reads a flipped
 * uncompressed block as other data, and a compaction over keys that no longer sort
 * aborts the whole process. The clone's logs end at their first gap (log-scan.ts):
 * `fn` gets the cut it made (undefined when none), to judge the state that leaves and
 * to make the same cut in `metaDir` before opening it for real. */
export async function withMetaClone<T>(
  metaDir: string, fn: (meta: LevelMetaStore, cut: LogCut | undefined) => Promise<T>, o: CloneOptions = {},
): Promise<T> {
  const holder = lockHolder(metaDir);
  if (holder !== undefined) {
    throw new UcError('UC_POOL_LOCKED', `metadata ${metaDir} is open in process ${holder}: stop that device first`);
  }
  const clone = cloneMetaDir(metaDir);
  try {
    const damage = o.allowTableDamage ? [] : tableDamage(clone.dir, { decodeData: false });
    if (damage.length > 0) {
      throw new UcError(
        'UC_META_CORRUPT',
        `${damage.join('; ')}. Nothing was modified. Restore the metadata directory ${metaDir} from a backup; ` +
          '`check` shows what it holds.',
      );
    }
    const cut = findLogCut(clone.dir);
    if (cut !== undefined) applyLogCut(clone.dir, cut);
    const meta = await LevelMetaStore.open(clone.dir, { create: false, shownAs: metaDir });
    try {
      return await fn(meta, cut);
    } finally {
      await meta.close();
    }
  } finally {
    clone.remove();
  }
}

/**
 * Makes in `metaDir` the cut validated on its clone, before LevelDB opens it
 * (LevelDB would replay the records after the gap). The caller holds the pool's
 * lock; the logs must still end where the clone's did, else nothing is changed.
 */
export function applyValidatedLogCut(metaDir: string, cut: LogCut): void {
  const now = findLogCut(metaDir);
  if (now === undefined || now.file !== cut.file || now.at !== cut.at || now.recordsDropped !== cut.recordsDropped) {
    throw new UcError('UC_POOL_LOCKED', `metadata ${metaDir} changed while it was being validated; nothing was modified`);
  }
  applyLogCut(metaDir, cut);
}

/** Pid of a process holding LevelDB's lock on `metaDir`, if any (Linux /proc/locks). */
export function lockHolder(metaDir: string): number | undefined {
  let st: fs.Stats;
  let text: string;
  try {
    st = fs.statSync(path.join(metaDir, 'LOCK'));
    text = fs.readFileSync('/proc/locks', 'utf8');
  } catch {
    return undefined; // no LOCK file: nobody has it open
  }
  const major = Number((BigInt(st.dev) >> 8n) & 0xfffn) | Number((BigInt(st.dev) >> 32n) & ~0xfffn);
  const minor = Number(BigInt(st.dev) & 0xffn) | Number((BigInt(st.dev) >> 12n) & ~0xffn);
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] === '->') continue; // a blocked waiter, not a holder
    const id = /^([0-9a-f]+):([0-9a-f]+):(\d+)$/.exec(f[5] ?? '');
    if (id === null) continue;
    if (parseInt(id[1], 16) === major && parseInt(id[2], 16) === minor && Number(id[3]) === st.ino) {
      return Number(f[4]);
    }
  }
  return undefined;
}

function listDir(src: string): string[] {
  try {
    return fs.readdirSync(src);
  } catch (err) {
    throw cloneError(err, src);
  }
}

/** Clones of `src` are named `.<name>.clone-<pid>-` plus a random suffix: the pid tells a leftover from one in use. */
function clonePrefix(src: string): string {
  return `.${path.basename(src)}.clone-`;
}

function makeCloneDir(src: string): string {
  sweepStaleClones(src);
  const prefix = `${clonePrefix(src)}${process.pid}-`;
  try {
    return fs.mkdtempSync(path.join(path.dirname(src), prefix));
  } catch {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix)); // parent not writable: copy instead of link
  }
}

/** True when no process `pid` exists (a pid we may not signal exists). */
function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Removes clones of `src` left by a process that died before removing its own
 * (SIGKILL during validation or `check`): their hard links would keep table
 * files LevelDB has deleted. A clone of a live process is left alone.
 */
export function sweepStaleClones(src: string): void {
  const prefix = clonePrefix(src);
  for (const parent of [path.dirname(src), os.tmpdir()]) {
    let names: string[];
    try {
      names = fs.readdirSync(parent).filter((n) => n.startsWith(prefix));
    } catch {
      continue;
    }
    for (const name of names) {
      const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
      if (!Number.isSafeInteger(pid) || pid <= 0 || !processGone(pid)) continue;
      try {
        fs.rmSync(path.join(parent, name), { recursive: true, force: true });
      } catch {
        // best effort: a leftover wastes space, it is never read
      }
    }
  }
}

function linkOrCopy(from: string, to: string): void {
  try {
    fs.linkSync(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EACCES' && code !== 'EMLINK') throw err;
    fs.copyFileSync(from, to);
  }
}

function cloneError(err: unknown, src: string): UcError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new UcError('UC_META_MISSING', `metadata directory ${src} is missing or empty (no LevelDB CURRENT file)`, { cause: err });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new UcError('UC_PERMISSION_DENIED', `cannot read metadata ${src}: ${String(err)}`, { cause: err });
  }
  if (code === 'ENOSPC') {
    return new UcError('UC_NO_SPACE', `no space to open metadata ${src} safely: ${String(err)}`, { cause: err });
  }
  return new UcError('UC_IO', `cannot read metadata ${src}: ${String(err)}`, { cause: err });
}
