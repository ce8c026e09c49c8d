// Public API of the storage engine (src/engine). Bench, CLI and device code
// import from here only. Units: `lba`/`blocks` are 4 KiB blocks; sizes are bytes.
//
//   formatPool({ backingPath, metaDir?, logicalBytes, segmentBytes?, capacityBytes?,
//                overwrite?, ...EngineOptions }) => Promise<BlockEngine>
//       Creates (sparse file) or formats a pool; metadata in `${backingPath}.meta`
//       unless metaDir is given. Refuses an existing pool unless overwrite.
//   openPool({ backingPath, metaDir?, ...EngineOptions }) => Promise<BlockEngine>
//       Opens an existing pool. UcError codes, nothing modified on failure:
//       UC_POOL_FOREIGN (no magic), UC_POOL_VERSION (newer format),
//       UC_POOL_TRUNCATED, UC_POOL_CORRUPT (both superblock copies bad),
//       UC_META_MISSING (no metadata, or not a LevelDB database),
//       UC_META_MISMATCH (metadata of another pool), UC_META_CORRUPT (LevelDB
//       corruption or out-of-range records), UC_META_ROLLBACK (metadata older than
//       the last commit the pool recorded durable), UC_PERMISSION_DENIED,
//       UC_NO_SPACE, UC_POOL_LOCKED (metadata in use).
//   formatEngine(pool: PoolStore, meta: MetaStore, FormatOptions) / openEngine(pool, meta, opts)
//       The same over any stores (src/testing's SimDisk + MemMetaStore in tests).
//   checkPool({ backingPath, metaDir? }) => Promise<CheckReport>   (src/engine/check.ts)
//       Offline audit on a clone of the metadata: writes nothing; report.clean is
//       true only when no problem was found.
//   repairSuperblock(backingPath) => Promise<string[]>   (src/engine/check.ts)
//       Rewrites a damaged or stale superblock copy from the valid one; nothing else.
//
//   class BlockEngine (structurally a BlockTarget, src/device/target.ts):
//     read(lba, blocks, buf): Promise<void>            buf.length >= blocks*4096
//     write(lba, blocks, buf, fua): Promise<void>      one call per request, any size;
//                                                      durable on resolve when fua
//     flush(): Promise<void>                           rule 1: everything completed before
//                                                      is durable when it resolves
//     discard(lba, blocks) / writeZeroes(lba, blocks, noUnmap): Promise<void>
//                                                      range unmap; reads return zeros
//     close(): Promise<void>                           flushes, waits for in-flight work
//     stats(): EngineStats                             synchronous, cheap-ish (O(segments))
//     compact({ liveFraction?, maxSegments? }): Promise<CompactionStats>
//                                                      runs compaction now (also runs in the
//                                                      background unless disabled)
//     resize(logicalBytes, { allowShrink?, capacityBytes? }): Promise<void>
//                                                      grow (file pools grow capacity too);
//                                                      shrink only with allowShrink and no
//                                                      data beyond the new end
//     whenLoaded(): Promise<void>                      the scans after open and the metadata
//                                                      cache warm-up have ended (never rejects)
//     uuid, logicalBytes, logicalBlocks (getters)
//   Concurrency: mutating calls are serialized inside the engine (callers may issue
//   many at once); reads run concurrently with them. Non-durable group commits run in
//   the background; flush()/fua/close() wait for everything before them.
//   Memory: LevelDB cache 16 MiB + memtable 8 MiB (x2), up to ~4 segment buffers
//   (4 MiB each), the overlay (<= commitRecordsMax records), the metadata cache
//   (cacheMib), 1 bit per logical block.
//   Stores passed to formatEngine/openEngine stay owned by the caller (close() does
//   not close them); formatPool/openPool engines close theirs.
//   Errors: UcError (src/util/errors.ts): UC_INVALID_ARGUMENT (range beyond the end,
//   closed engine), UC_NO_SPACE (pool full), UC_IO, UC_POOL_CORRUPT.
//   EngineOptions: dedup 'verify'|'on'|'off' (default verify), compression 'lz4'|'none',
//   fingerprint (inject), flushDelayMs (default 200; 0 = off), backgroundCompaction
//   (default true), compactLiveFraction (0.5), commitRecordsMax, legacyCounters (the
//   totals a pool without a C record starts from).
//   Counters: COUNTER_NAMES is the one list; stats() gives them since open and, in
//   `totals`, since format (persisted in the C record with every commit).
export { BlockEngine } from './block-engine.js';
export { defaultMetaDir, formatEngine, formatPool, openEngine, openPool, type PoolPaths } from './open.js';
export { auditPool, checkPool, repairSuperblock, type CheckReport } from './check.js';
export { defaultCapacityBytes } from './capacity.js';
export { COUNTER_NAMES, zeroCounters, type CounterName, type Counters } from './counters.js';
export type { NativeReadGeometry, NativeReadTables } from './native-reads.js';
export type { WriteApplyHandle } from './native-apply.js';
export type { CompactionStats, EngineEvent, EngineOptions, EngineStats, FormatOptions, MetaCacheStats, NativeWriteDeclines } from './types.js';
export type { SectionKind, SectionStats } from './engine-mutex.js';
export type { ReadCacheStats } from './read-cache.js';
export type { PoolStore } from '../pool/store.js';
export type { MetaStore } from '../meta/store.js';
export { Estimator, predict, type EstimatePrediction, type EstimateTotals, type EstimatorOptions } from './estimate.js';
