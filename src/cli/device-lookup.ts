// Finding the device a config declares: the served pool or backing file is
// unique (its lock), so the run record naming the same backing path is the
// device, whatever number the kernel gave it.

import { listRunRecords, recordedDaemonAlive, type RunRecord } from '../server/run-file.js';
import { deviceIdInUse } from '../device/control.js';
import type { DeviceConfig } from './device-config.js';

export type DeviceStatus =
  | { readonly kind: 'down' }
  | { readonly kind: 'live'; readonly record: RunRecord }
  /** The device exists but its daemon died: `recover` brings it back. */
  | { readonly kind: 'orphaned'; readonly record: RunRecord };

export function deviceStatusOf(config: DeviceConfig): DeviceStatus {
  const record = listRunRecords().find((r) => r.backing === config.backing);
  if (!record || !deviceIdInUse(record.devId)) return { kind: 'down' };
  return recordedDaemonAlive(record) ? { kind: 'live', record } : { kind: 'orphaned', record };
}
