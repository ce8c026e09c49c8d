// Everything `stats` shows about every device at once: the kernel's and the
// run record's view (devices.ts), the stable name, the daemon's figures when
// it answers, and the free space of the filesystem under the backing file.

import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { UblkControl } from '../native/index.js';
import { readNameTag } from '../server/stable-name.js';
import { controlCall } from './control-client.js';
import { describeDevice, type DeviceView } from './devices.js';
import type { DirectServeStats } from './direct-status.js';
import type { StatsSnapshot } from './packed-stats.js';

export interface HostFs {
  readonly path: string;
  readonly sizeBytes: number;
  readonly availBytes: number;
}

export interface DeviceReport {
  readonly view: DeviceView;
  readonly name: string | undefined;
  readonly packed: StatsSnapshot | undefined;
  readonly direct: DirectServeStats | undefined;
  readonly hostFs: HostFs | undefined;
}

/** statfs of the directory holding `file` (the filesystem a pool grows into). */
export function hostFsOf(file: string): HostFs | undefined {
  try {
    const st = statfsSync(dirname(file));
    return { path: dirname(file), sizeBytes: st.blocks * st.bsize, availBytes: st.bavail * st.bsize };
  } catch {
    return undefined;
  }
}

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
