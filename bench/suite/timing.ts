// Where a report run's wall time went: the parts guest.sh times (SUITE-TIME
// lines: data preparation, each speed round, each space data set, per device
// with its set-up) and the host's own (dm-vdo tools, guest boot and shutdown).
import type { DeviceName } from './model.js';

/** One SUITE-TIME line: a part of the guest run, per device where it has one. */
export interface TimeRow {
  part: string;
  device: DeviceName | null;
  seconds: number;
  /** From set-up start to a usable device (for our servers started ahead: the wait left). */
  setupS: number | null;
  /** Stopping and removing the device (absent from older lines). */
  teardownS?: number | null;
}

/** What the host measured around the guest run. */
export interface HostTimes {
  /** Fetching (or finding cached) dm-vdo's user space. */
  vdoToolsS: number;
  /** The guest run from start to exit (boot, guest.sh, shutdown). */
  guestS: number;
}

export interface TimePart {
  part: string;
  seconds: number;
  /** Device set-up and tear-down seconds within the part. */
  setupS: number;
  teardownS: number;
}

export interface Timings {
  parts: TimePart[];
  /** Set-up seconds per device over the whole run. */
  setupByDevice: Partial<Record<DeviceName, number>>;
  totalS: number;
}

/** The guest script's own total, printed last (part "guest"). */
export const GUEST_TOTAL_PART = 'guest';

const round1 = (x: number): number => Math.round(x * 10) / 10;
const plain = (part: string, seconds: number): TimePart => ({ part, seconds, setupS: 0, teardownS: 0 });

export function summarizeTimes(rows: readonly TimeRow[], host: HostTimes | undefined, totalS: number): Timings {
  const parts: TimePart[] = [];
  const setupByDevice: Partial<Record<DeviceName, number>> = {};
  const guestTotal = rows.find((r) => r.part === GUEST_TOTAL_PART)?.seconds;
  for (const r of rows.filter((x) => x.part !== GUEST_TOTAL_PART)) {
    let p = parts.find((x) => x.part === r.part);
    if (p === undefined) parts.push((p = { part: r.part, seconds: 0, setupS: 0, teardownS: 0 }));
    p.seconds += r.seconds;
    p.setupS += r.setupS ?? 0;
    p.teardownS += r.teardownS ?? 0;
    if (r.device !== null && r.setupS !== null) setupByDevice[r.device] = (setupByDevice[r.device] ?? 0) + r.setupS;
  }
  const inGuest = parts.reduce((a, p) => a + p.seconds, 0);
  const before: TimePart[] = [];
  if (host !== undefined) {
    before.push(plain('dm-vdo user space (host; cached after the first run)', host.vdoToolsS));
    if (guestTotal !== undefined) before.push(plain('guest boot and shutdown', host.guestS - guestTotal));
  }
  const after = guestTotal === undefined ? [] : [plain('other steps in the guest', guestTotal - inGuest)];
  return {
    parts: [...before, ...parts, ...after].map((p) => ({ ...p, seconds: round1(p.seconds), setupS: round1(p.setupS), teardownS: round1(p.teardownS) })),
    setupByDevice: Object.fromEntries(Object.entries(setupByDevice).map(([d, s]) => [d, round1(s)])),
    totalS,
  };
}
