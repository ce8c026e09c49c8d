// The engine's counters: ONE list, used for the since-open figures, the
// cumulative totals persisted in the C record (docs/format.md) and, through
// EngineStats, by every consumer. The record stores them in this order:
// append new names at the end only (an older record then reads as a prefix).
import { decodeCounterRecord, encodeCounterRecord } from '../meta/records.js';

export const COUNTER_NAMES = [
  /** Blocks written by callers (every block of every write request). */
  'blocksWritten',
  /** Blocks read by callers. */
  'blocksRead',
  /** Written blocks shared with an existing extent. */
  'dedupHits',
  /** Written blocks that were one repeated 8-byte pattern (zeros included). */
  'sameFillBlocks',
  /** Written blocks stored compressed. */
  'compressedBlocks',
  /** Written blocks stored raw. */
  'rawBlocks',
  /** Fingerprint matches whose bytes differed (verify mode). */
  'fingerprintCollisions',
  /** Reads that found damaged stored bytes and failed with EIO. */
  'readVerifyFailures',
  /** Metadata batches committed. */
  'commits',
  /** Of those, batches written with sync. */
  'durableCommits',
  /** Segments the compactor cleaned and freed. */
  'segmentsCleaned',
  /** Fragment bytes the compactor copied. */
  'bytesMoved',
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];
export type Counters = Record<CounterName, number>;

export function zeroCounters(): Counters {
  return Object.fromEntries(COUNTER_NAMES.map((k) => [k, 0])) as Counters;
}

export function addCounters(a: Readonly<Counters>, b: Readonly<Counters>): Counters {
  return Object.fromEntries(COUNTER_NAMES.map((k) => [k, a[k] + b[k]])) as Counters;
}

export function encodeCounters(c: Readonly<Counters>): Buffer {
  return encodeCounterRecord(COUNTER_NAMES.map((k) => c[k]));
}

/** Counters from a C record; names the record predates read as 0, extra values are ignored. */
export function decodeCounters(v: Buffer): Counters {
  const values = decodeCounterRecord(v);
  return Object.fromEntries(COUNTER_NAMES.map((k, i) => [k, values[i] ?? 0])) as Counters;
}
