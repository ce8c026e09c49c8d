// Options and statistics of the block engine (the public shapes; see index.ts).
import type { CompressionName } from '../compress/index.js';
import type { DedupMode, FingerprintFn } from '../dedup/index.js';
import type { Counters } from './counters.js';
import type { ReadCacheStats } from './read-cache.js';
import type { SectionStats } from './engine-mutex.js';
import type { JournalFile } from './write-journal.js';

export interface EngineOptions {
  /** 'verify' (default) byte-compares before sharing; 'on' trusts XXH128; 'off'. */
  dedup?: DedupMode;
  /** Codec for new blocks (default lz4). Any stored codec is always readable. */
  compression?: CompressionName;
  /** Fingerprint function (default XXH128); tests inject collisions through it. */
  fingerprint?: FingerprintFn;
  /** Delay before unwritten data is written and committed (non-durably); 0 = never. */
  flushDelayMs?: number;
  /** Run the compactor in the background after commits (default true). */
  backgroundCompaction?: boolean;
  /** Live fraction under which a sealed segment is compacted (default 0.5). */
  compactLiveFraction?: number;
  /** Background compaction waits for this long without writes while more than a quarter
   * of the segments are free (default 1000; 0 = compact at once). */
  compactIdleMs?: number;
  /** Pending metadata records that trigger a non-durable group commit. */
  commitRecordsMax?: number;
  /** RAM budget in MiB of the clean metadata cache and dedup filter (default 48;
   * fractions allowed, down to a few sets of 8 entries per record kind). */
  cacheMib?: number;
  /** After a failed commit (e.g. a full filesystem), ms between retries (default 1000). */
  stallRetryMs?: number;
  /** Bytes of recently read fragments kept in RAM for later reads (default 32 MiB; 0 = none). */
  readCacheBytes?: number;
  /** Called (synchronously, must not throw) for events worth a log line. */
  onEvent?: (event: EngineEvent) => void;
  /** Cumulative counters to start from when the pool holds no counter record
   * (a pool written before the record existed); zeros when absent or undefined. */
  legacyCounters?: (uuid: string) => Counters | undefined;
  /** The write journal's two files (openPool opens them in the metadata
   * directory); without them a killed process loses what it had not committed. */
  journalFiles?: readonly [JournalFile, JournalFile];
  /** Bytes each journal file may hold (default 64 MiB); a full one forces a durable commit. */
  journalBytes?: number;
}

/** Things the engine reports to its host (the daemon logs them). */
export type EngineEvent =
  /** A read found a block whose stored bytes are not its extent's block (EIO). */
  | { kind: 'read-verify-failed'; lba: number; extentId: number; segment: number; offset: number; reason: string }
  /** A commit failed for lack of space on the pool's or the metadata's medium;
   * writes get UC_NO_SPACE until a retry succeeds. Emitted once per episode. */
  | { kind: 'no-space'; message: string }
  /** The commit that failed for lack of space went through: writes work again. */
  | { kind: 'no-space-cleared' }
  /** The warm-up after open ended (cache-warm.ts): records taken per table, chunks
   * scanned again, whether a table filled or it was cut short, and how long it took. */
  | { kind: 'cache-warmed'; maps: number; extents: number; rescans: number; full: boolean; cut: boolean; ms: number };

export interface FormatOptions extends EngineOptions {
  /** Logical size of the device in bytes (a multiple of 4096). */
  logicalBytes: number;
  /** Segment size (default 4 MiB; a power of two >= 64 KiB). */
  segmentBytes?: number;
}

export interface CompactionStats {
  /** Segments cleaned and freed since open. */
  segmentsCleaned: number;
  /** Fragment bytes copied by the compactor since open. */
  bytesMoved: number;
  /** Sealed segments currently under the live threshold. */
  candidates: number;
  /** A compaction step is running now. */
  running: boolean;
}

/** The clean metadata cache and the dedup filter (since open; not persisted). */
export interface MetaCacheStats {
  /** Bytes of the cache's tables (fixed at open from cacheMib). */
  bytes: number;
  /** Lookups the overlays missed that the cache answered / that went to the store. */
  hits: number;
  misses: number;
  /** Records pushed out to make room. */
  evictions: number;
  /** Bytes of the dedup filter. */
  filterBytes: number;
  /** Dedup lookups the filter answered "certainly new" (no store lookup). */
  filterNew: number;
  /** The filter holds every stored fingerprint (its open scan finished). */
  filterReady: boolean;
  /** Map and extent records the warm-up after open took into the cache (cache-warm.ts). */
  warmedRecords: number;
}

/** Counters (src/engine/counters.ts) are since open; `totals` since the pool was formatted. */
export interface EngineStats extends Counters {
  uuid: string;
  logicalBytes: number;
  segmentBytes: number;
  segmentCount: number;
  freeSegments: number;
  usedSegments: number;
  /** LBAs with data (an extent or a non-zero fill); zero blocks are not counted. */
  mappedBlocks: number;
  /** Distinct stored extents. */
  extents: number;
  /** Fragment bytes (headers + payload + padding) referenced by live extents. */
  liveBytes: number;
  /** Bytes of segments in use (what the pool really holds, garbage included). */
  physicalBytes: number;
  /** mappedBlocks * 4096 / liveBytes (1 when empty). */
  ratio: number;
  /** Every counter summed over the pool's life (persisted with each commit). */
  totals: Counters;
  compaction: CompactionStats;
  /** The cache of recently read pool bytes, since open. */
  readCache: ReadCacheStats;
  cache: MetaCacheStats;
  /** Written blocks whose apply step ran in the addon, since open (native-apply.ts). */
  nativeAppliedBlocks: number;
  /** One-block writes applied in the addon outside the mutex, since open (native-writes.ts). */
  nativeWrittenBlocks: number;
  /** One-block writes the addon left to JavaScript, by reason, since open (absent without the path). */
  nativeWriteDeclines?: NativeWriteDeclines;
  /** The engine mutex's sections since open, by kind (what shut the addon's writes out, and for how long). */
  mutex: SectionStats;
}

/** Why one-block writes went to the JavaScript path (native/fast-write.h kFwDeclined*). */
export interface NativeWriteDeclines {
  /** The gate was closed (an exclusive section held or queued), or the budget used up. */
  closed: number;
  /** The journal was busy (an append or rotation in JavaScript) or its active file full. */
  journal: number;
  /** Same-filled blocks (mapped without an extent, in JavaScript). */
  fill: number;
  /** The dedup filter could not rule out a stored copy (a store lookup). */
  filter: number;
  /** A dedup candidate whose bytes were not at hand to compare. */
  dup: number;
  /** The old value was not in the tables, or the open segment was full. */
  plan: number;
  /** The journal record could not be written. */
  record: number;
  /** Times the gate closed, and its closed time in all (ms). */
  gateClosures: number;
  gateClosedMs: number;
}
