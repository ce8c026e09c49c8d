// Everything `stats` shows about every device at once: the kernel's and the
// run record's view (devices.ts), the stable name, the daemon's figures when
// it answers, and the free space of the filesystem under the backing file.

import type { UblkControl } from '../native/index.js';
import { readNameTag } from '../server/stable-name.js';
import { controlCall } from './control-client.js';
import { describeDevice } from './devices.js';
import { hostFsOf, type DeviceReport } from '../server/device-report.js';
import type { DirectServeStats } from './direct-status.js';
import type { StatsSnapshot } from '../server/targets/packed-stats.js';

export type { DeviceReport, HostFs } from '../server/device-report.js';

export async function reportDevice(control: UblkControl, id: number, timeoutMs: number): Promise<DeviceReport | undefined> {
  const view = await describeDevice(control, id);
  if (!view) return undefined;
  let packed: StatsSnapshot | undefined;
  let direct: DirectServeStats | undefined;
  if (view.daemonAlive) {
    // A daemon that does not answer still gets its row, without figures.
    const reply = await controlCall(id, { op: 'stats' }, { timeoutMs }).catch(() => undefined);
    packed = reply?.stats;
    direct = reply?.direct;
  }
  return {
    view,
    name: readNameTag(id),
    packed,
    direct,
    hostFs: view.backing !== null && !view.backing.startsWith('/dev/') ? hostFsOf(view.backing) : undefined,
  };
}
