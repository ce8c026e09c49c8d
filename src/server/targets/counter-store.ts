// The packed device's cumulative counters used to live in a JSON file inside
// the metadata directory; the engine now keeps them in its own metadata record
// (docs/format.md, `C`). This reads that old file once, for a pool that has no
// record yet (openPool's legacyCounters); the engine writes the record at its
// next commit or close, after which the file is never read again. The file
// names the pool's uuid: a file of another pool is ignored.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COUNTER_NAMES, type Counters } from '../../engine/index.js';

export const COUNTERS_FILE = 'ublk-compress-counters.json';

export function countersPath(metaDir: string): string {
  return join(metaDir, COUNTERS_FILE);
}

/** The totals the old file saved for this pool; undefined when missing, unreadable or of another pool. */
export function loadLegacyCounters(metaDir: string, uuid: string): Counters | undefined {
  let parsed: { uuid?: unknown; counters?: unknown };
  try {
    parsed = JSON.parse(readFileSync(countersPath(metaDir), 'utf8')) as { uuid?: unknown; counters?: unknown };
  } catch {
    return undefined;
  }
  if (parsed.uuid !== uuid || typeof parsed.counters !== 'object' || parsed.counters === null) return undefined;
  const saved = parsed.counters as Record<string, unknown>;
  const valid = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  return Object.fromEntries(COUNTER_NAMES.map((k) => [k, valid(saved[k]) ? saved[k] : 0])) as Counters;
}
