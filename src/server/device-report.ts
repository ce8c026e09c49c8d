// One device as `stats` reports it: the kernel's and the run record's view,
// the stable name, the daemon's figures when it answers, and the free space of
// the filesystem under the backing file. Plain data: the CLI gathers it for
// every device; a daemon builds its own for /metrics (service-run.ts).

import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DirectServeStats } from './targets/direct-native.js';
import type { StatsSnapshot } from './targets/packed-stats.js';

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
