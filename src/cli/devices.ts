// What the CLI shows about existing ublk devices: the kernel's view (from
// src/device's control entry) merged with the daemons' run records.

import { describeKernelDevice, stateName } from '../device/control.js';
import { describeFlags } from '../device/params.js';
import type { UblkControl } from '../native/index.js';
import type { DeviceView } from '../server/device-report.js';
import { readRunRecord, recordedDaemonAlive, type RunRecord } from '../server/run-file.js';

export type { DeviceView };

/**
 * True when `pid` is the live daemon the device's run record names: same pid
 * and same process start time (a reused pid never matches).
 */
export function isOurDaemon(pid: number, record: RunRecord | undefined): boolean {
  return record !== undefined && record.pid === pid && recordedDaemonAlive(record);
}

export async function describeDevice(control: UblkControl, id: number): Promise<DeviceView | undefined> {
  const kernel = await describeKernelDevice(control, id, 5000);
  if (kernel === undefined) return undefined;
  const { info } = kernel;
  const record: RunRecord | undefined = readRunRecord(id);
  const pid = info.ublksrvPid > 0 ? info.ublksrvPid : (record?.pid ?? null);
  return {
    id,
    device: `/dev/ublkb${id}`,
    state: stateName(info.state),
    sizeBytes: kernel.sizeBytes ?? record?.sizeBytes ?? null,
    layout: record?.layout ?? null,
    backing: record?.backing ?? null,
    pid,
    daemonAlive: pid !== null && isOurDaemon(pid, record),
    queues: info.nrHwQueues,
    depth: info.queueDepth,
    flags: `0x${info.flags.toString(16)}`,
    flagNames: describeFlags(info.flags),
    logPath: record?.logPath ?? null,
  };
}
