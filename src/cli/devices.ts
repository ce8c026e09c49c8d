// What the CLI knows about existing ublk devices: the kernel's view (sysfs
// and GET_DEV_INFO) merged with the daemons' run records.

import { readdirSync, readFileSync } from 'node:fs';
import { describeFlags } from '../device/params.js';
import { UblkControl, UBLK_STATE, type DevInfo } from '../native/index.js';
import { UcError } from '../util/errors.js';
import { UBLK_CHAR_CLASS_DIR, UBLK_CONTROL_PATH } from './paths.js';
import { requireUblk } from './preflight.js';
import { processAlive, readRunRecord, type RunRecord } from './run-file.js';

/** Ids of every ublk device the kernel has (char devices registered). */
export function listDeviceIds(): number[] {
  let names: string[];
  try {
    names = readdirSync(UBLK_CHAR_CLASS_DIR);
  } catch {
    return [];
  }
  return names
    .map((n) => /^ublkc(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

export function stateName(state: number): string {
  const entry = Object.entries(UBLK_STATE).find(([, v]) => v === state);
  return entry ? entry[0] : `STATE_${state}`;
}

/** Opens the control device with the checks and messages a user needs. */
export function openControl(): UblkControl {
  requireUblk();
  try {
    return UblkControl.open(UBLK_CONTROL_PATH);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new UcError('UC_NOT_ROOT', `cannot open ${UBLK_CONTROL_PATH}: must be run as root`, { cause: err });
    }
    throw err;
  }
}

export function isNoDevice(err: unknown): boolean {
  const e = err as { errno?: number; code?: string };
  return e?.errno === 19 || e?.code === 'ENODEV' || e?.errno === 2 || e?.code === 'ENOENT';
}

/** True when `pid` is a live ublk-compress process (not a reused pid). */
export function isOurDaemon(pid: number): boolean {
  if (!processAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('ublk-compress');
  } catch {
    return false;
  }
}

export interface DeviceView {
  readonly id: number;
  readonly device: string;
  readonly state: string;
  readonly sizeBytes: number | null;
  readonly layout: string | null;
  readonly backing: string | null;
  readonly pid: number | null;
  readonly daemonAlive: boolean;
  readonly queues: number | null;
  readonly depth: number | null;
  readonly flags: string | null;
  /** Names of the negotiated UBLK_F_* flags (docs/kernels.md). */
  readonly flagNames: readonly string[];
  readonly logPath: string | null;
}

export async function describeDevice(control: UblkControl, id: number): Promise<DeviceView | undefined> {
  let info: DevInfo;
  try {
    info = await control.getDevInfo(id, { timeoutMs: 5000 });
  } catch (err) {
    if (isNoDevice(err)) return undefined;
    throw err;
  }
  let sizeBytes: number | null = null;
  try {
    const params = await control.getParams(id, { timeoutMs: 5000 });
    if (params.basic) sizeBytes = params.basic.devSectors * 512;
  } catch {
    // GET_PARAMS fails on a device whose params were never set: size unknown.
  }
  const record: RunRecord | undefined = readRunRecord(id);
  const pid = info.ublksrvPid > 0 ? info.ublksrvPid : (record?.pid ?? null);
  return {
    id,
    device: `/dev/ublkb${id}`,
    state: stateName(info.state),
    sizeBytes: sizeBytes ?? record?.sizeBytes ?? null,
    layout: record?.layout ?? null,
    backing: record?.backing ?? null,
    pid,
    daemonAlive: pid !== null && isOurDaemon(pid),
    queues: info.nrHwQueues,
    depth: info.queueDepth,
    flags: `0x${info.flags.toString(16)}`,
    flagNames: describeFlags(info.flags),
    logPath: record?.logPath ?? null,
  };
}
