// Warns in the log when the filesystem under the pool fills up: a pool file
// grows into its filesystem, and once that is full every write to the device
// fails (ENOSPC). One warning each time usage rises past 80, 90 and 95%;
// a level re-arms once usage falls 2 points below it, so a filesystem
// hovering at a threshold does not flood the log.

import { statfsSync } from 'node:fs';
import type { Logger } from 'pino';

export const FULLNESS_LEVELS: readonly number[] = [80, 90, 95];
const REARM_POINTS = 2;

export interface FsUsage {
  readonly sizeBytes: number;
  readonly availBytes: number;
}

/** Used share in percent, as df counts it (blocks not available to us are used). */
export function usedPercent(u: FsUsage): number {
  return u.sizeBytes > 0 ? ((u.sizeBytes - u.availBytes) / u.sizeBytes) * 100 : 0;
}

export class FullnessAlarm {
  private armed = new Set(FULLNESS_LEVELS);

  /** The highest level newly passed by `percent` (to warn about), if any. */
  update(percent: number): number | undefined {
    let crossed: number | undefined;
    for (const level of FULLNESS_LEVELS) {
      if (percent >= level && this.armed.has(level)) {
        this.armed.delete(level);
        crossed = level;
      } else if (percent < level - REARM_POINTS) {
        this.armed.add(level);
      }
    }
    return crossed;
  }
}

export function statfsUsage(dir: string): FsUsage {
  const st = statfsSync(dir);
  return { sizeBytes: st.blocks * st.bsize, availBytes: st.bavail * st.bsize };
}

/**
 * Checks `dir`'s filesystem now and every `intervalMs`; returns the function
 * that stops the checks. The timer never keeps the process alive.
 */
export function watchPoolFilesystem(
  dir: string,
  log: Logger,
  intervalMs = 60_000,
  usageOf: (dir: string) => FsUsage = statfsUsage,
): () => void {
  const alarm = new FullnessAlarm();
  const check = (): void => {
    let usage: FsUsage;
    try {
      usage = usageOf(dir);
    } catch (err) {
      log.warn({ err, dir }, 'cannot read the free space of the pool filesystem');
      return;
    }
    const percent = usedPercent(usage);
    const level = alarm.update(percent);
    if (level !== undefined) {
      log.warn(
        { dir, usedPercent: Math.round(percent * 10) / 10, availBytes: usage.availBytes, threshold: level },
        `the filesystem under the pool is over ${level}% full: writes fail once it is full`,
      );
    }
  };
  check();
  const timer = setInterval(check, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
