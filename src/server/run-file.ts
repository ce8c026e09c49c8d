// The per-device record a daemon keeps in the run directory
// (/run/ublk-compress/<id>.json): what `list` shows and what `del` and
// `recover` need to find the daemon and rebuild the target.

import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Layout } from './config.js';
import { runDir, runFilePath } from './paths.js';

export interface RunRecord {
  readonly devId: number;
  readonly pid: number;
  readonly backing: string;
  readonly sizeBytes: number;
  readonly layout: Layout;
  readonly queues: number;
  readonly depth: number;
  readonly logPath: string;
  readonly startedAt: string;
  readonly version: string;
  /**
   * The daemon's start time in clock ticks since boot (field 22 of
   * /proc/PID/stat): with the pid it names the process, even after the pid
   * is reused. Missing in records of 0.1.0 daemons.
   */
  readonly startTicks?: number;
  /** `--metrics` ([HOST]:PORT): a daemon that recovers the device serves /metrics there again. */
  readonly metrics?: string;
  /** `--stats-group` as a gid: a recovering daemon opens the stats socket again. */
  readonly statsGid?: number;
}

/** What the run record of a packed device holds besides the common fields. */
export interface PackedRunRecord extends RunRecord {
  readonly metaDir: string;
  readonly dedup: string;
  readonly compression: string;
  /** Missing in records written before --cache-mib existed (the default then applies). */
  readonly cacheMib?: number;
}

function isRunRecord(v: unknown): v is RunRecord {
  const r = v as Record<string, unknown>;
  return (
    typeof r === 'object' &&
    r !== null &&
    Number.isSafeInteger(r.devId) &&
    Number.isSafeInteger(r.pid) &&
    typeof r.backing === 'string' &&
    Number.isSafeInteger(r.sizeBytes) &&
    (r.layout === 'direct' || r.layout === 'packed')
  );
}

/** Writes atomically (temp file + rename) so a reader never sees half a record. */
export function writeRunRecord(record: RunRecord): void {
  mkdirSync(runDir(), { recursive: true, mode: 0o755 });
  const path = runFilePath(record.devId);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, path);
}

/** The record for a device, or undefined when missing or unreadable. */
export function readRunRecord(devId: number): RunRecord | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(runFilePath(devId), 'utf8'));
    return isRunRecord(parsed) && parsed.devId === devId ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes the record. With `onlyPid`, only when it still names that process,
 * so a daemon exiting late never removes the record of its successor.
 */
export function removeRunRecord(devId: number, onlyPid?: number): boolean {
  if (onlyPid !== undefined) {
    const current = readRunRecord(devId);
    if (current && current.pid !== onlyPid) return false;
  }
  try {
    unlinkSync(runFilePath(devId));
    return true;
  } catch {
    return false;
  }
}

export function listRunRecords(): RunRecord[] {
  let names: string[];
  try {
    names = readdirSync(runDir());
  } catch {
    return [];
  }
  const records: RunRecord[] = [];
  for (const name of names) {
    const m = /^(\d+)\.json$/.exec(name);
    if (!m) continue;
    const record = readRunRecord(Number(m[1]));
    if (record) records.push(record);
  }
  return records.sort((a, b) => a.devId - b.devId);
}

/** Field 22 of /proc/PID/stat (start time in clock ticks), or undefined when there is no such process. */
export function processStartTime(pid: number): number | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) S ppid ...": comm may hold spaces and ')', so count from the
  // last ')'; the state there is field 3, start time is field 22.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[22 - 3]);
  return Number.isSafeInteger(ticks) ? ticks : undefined;
}

/**
 * True when the daemon a run record names is still that very process: same
 * pid and same start time, and not a zombie. A record without a start time
 * (written by 0.1.0) cannot be verified that way: its pid counts when that
 * process is alive and is an ublk-compress process (its command line says
 * so), the rule 0.1.0 itself used. del, list and recover all ask this.
 */
export function recordedDaemonAlive(record: RunRecord): boolean {
  if (!processAlive(record.pid)) return false;
  if (record.startTicks === undefined) return commandLineOf(record.pid).includes(DAEMON_COMMAND);
  return processStartTime(record.pid) === record.startTicks;
}

/** What every daemon's command line holds (the CLI's path or name). */
const DAEMON_COMMAND = 'ublk-compress';

/** /proc/PID/cmdline, arguments joined by spaces ('' when unreadable). */
function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** True when a process with this pid exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // "pid (comm) S ...": the state follows the last ')'. A zombie is dead
    // for our purposes (an init that does not reap would keep it forever).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
