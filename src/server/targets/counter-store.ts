// Persists the packed device's cumulative counters (bytes written, dedup
// hits, ...) in a small JSON file inside the metadata directory, so `stats`
// totals survive `del` + `add`. The engine's own counters start at zero in
// every process; the file holds the sums of the earlier runs. It is written
// atomically (temp + rename) at shutdown and every few seconds while
// serving, so after a kill -9 the totals lag by at most that interval (the
// pool's data and map are not affected: they have their own durability).
// The file names the pool's uuid: a file of another pool is ignored.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZERO_COUNTERS, type PersistedCounters } from './packed-stats.js';

export const COUNTERS_FILE = 'ublk-compress-counters.json';

export function countersPath(metaDir: string): string {
  return join(metaDir, COUNTERS_FILE);
}

/** The saved totals of this pool, or zeros when missing, unreadable or of another pool. */
export function loadCounters(metaDir: string, uuid: string): PersistedCounters {
  try {
    const parsed = JSON.parse(readFileSync(countersPath(metaDir), 'utf8')) as { uuid?: unknown; counters?: unknown };
    if (parsed.uuid !== uuid || typeof parsed.counters !== 'object' || parsed.counters === null) return { ...ZERO_COUNTERS };
    const saved = parsed.counters as Record<string, unknown>;
    const out = { ...ZERO_COUNTERS };
    for (const k of Object.keys(out) as Array<keyof PersistedCounters>) {
      const v = saved[k];
      if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) out[k] = v;
    }
    return out;
  } catch {
    return { ...ZERO_COUNTERS };
  }
}

export function saveCounters(metaDir: string, uuid: string, counters: PersistedCounters): void {
  const path = countersPath(metaDir);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ uuid, savedAt: new Date().toISOString(), counters })}\n`);
  renameSync(tmp, path);
}
