// EngineOptions with every default filled in (the engine reads only these).
import assert from 'node:assert';
import { xxh128, type DedupMode, type FingerprintFn } from '../dedup/index.js';
import {
  CACHE_MIB_DEFAULT, COMMIT_RECORDS_MAX, COMPACT_IDLE_MS_DEFAULT, COMPACT_LIVE_FRACTION, FLUSH_DELAY_MS_DEFAULT, READ_CACHE_BYTES_DEFAULT,
  STALL_RETRY_MS_DEFAULT,
} from '../util/limits.js';
import type { EngineEvent, EngineOptions } from './types.js';

export interface ResolvedOptions {
  dedup: DedupMode;
  fingerprint: FingerprintFn;
  flushDelayMs: number;
  backgroundCompaction: boolean;
  compactLiveFraction: number;
  compactIdleMs: number;
  commitRecordsMax: number;
  stallRetryMs: number;
  readCacheBytes: number;
  cacheMib: number;
  onEvent: ((event: EngineEvent) => void) | undefined;
}

export function resolveOptions(o: EngineOptions): ResolvedOptions {
  const r: ResolvedOptions = {
    dedup: o.dedup ?? 'verify',
    fingerprint: o.fingerprint ?? xxh128,
    flushDelayMs: o.flushDelayMs ?? FLUSH_DELAY_MS_DEFAULT,
    backgroundCompaction: o.backgroundCompaction ?? true,
    compactLiveFraction: o.compactLiveFraction ?? COMPACT_LIVE_FRACTION,
    compactIdleMs: o.compactIdleMs ?? COMPACT_IDLE_MS_DEFAULT,
    commitRecordsMax: o.commitRecordsMax ?? COMMIT_RECORDS_MAX,
    stallRetryMs: o.stallRetryMs ?? STALL_RETRY_MS_DEFAULT,
    readCacheBytes: o.readCacheBytes ?? READ_CACHE_BYTES_DEFAULT,
    cacheMib: o.cacheMib ?? CACHE_MIB_DEFAULT,
    onEvent: o.onEvent,
  };
  assert(r.compactLiveFraction > 0 && r.compactLiveFraction <= 1);
  assert(r.commitRecordsMax > 0);
  assert(Number.isSafeInteger(r.compactIdleMs) && r.compactIdleMs >= 0);
  assert(Number.isSafeInteger(r.stallRetryMs) && r.stallRetryMs >= 0);
  assert(Number.isSafeInteger(r.readCacheBytes) && r.readCacheBytes >= 0);
  assert(Number.isFinite(r.cacheMib) && r.cacheMib >= 0);
  return r;
}
