// Tunables of the storage engine, in one place. Each says why it has its value.
// Format-time values (segment size) are recorded in the superblock; the others
// can change between runs without touching the on-disk format.

/** Default segment size: big enough that one pwrite amortises its syscall over
 * ~2,000 fragments, small enough that the compactor copies at most 4 MiB per step. */
export const SEGMENT_BYTES_DEFAULT = 4 * 1024 * 1024;
/** Smallest segment allowed at format (tests use small ones to exercise sealing). */
export const SEGMENT_BYTES_MIN = 64 * 1024;
/** Fragment offsets are multiples of this: keeps headers aligned, wastes ~8 B per block. */
export const FRAGMENT_ALIGN_BYTES = 16;
/** lz4 output above this is stored raw: saving < 1/8 of a block is not worth a decompress. */
export const COMPRESSED_BYTES_MAX = 3584;
/** Pending metadata records after which a (non-durable) group commit runs. It bounds the
 * overlays and, above all, the peak RSS: writing 2 GiB of unique blocks peaked at ~310 MiB
 * with 16384 (JS garbage of the big batches and LevelDB's native memory for them) and
 * ~230 MiB with 4096, at no measured cost in write throughput (docs/packed.md, "Memory"). */
export const COMMIT_RECORDS_MAX = 4096;
/** RAM budget (MiB) of the clean metadata cache and the dedup filter: with 48 MiB the
 * cache holds ~625k map, ~365k extent and ~375k dedup records and the filter 12 MiB.
 * 48, not 64: writing 8 GiB of unique blocks then peaks under 256 MiB of RSS. */
export const CACHE_MIB_DEFAULT = 48;
/** Share of that budget given to the dedup filter (12 MiB of 48: 16 bits per extent up to
 * ~6M extents, ~4 bits per extent of a full 100 GiB device). */
export const CACHE_FILTER_SHARE = 0.25;

/** Full batches applied without sync that the engine keeps in RAM (to rewrite them if
 * a later commit fails) before it makes the next commit durable: bounds that memory. */
export const UNSYNCED_BATCHES_MAX = 4;
/** The open segment's tail is written and committed this long after the last write, so
 * a quiet device does not keep unwritten data in RAM indefinitely. */
export const FLUSH_DELAY_MS_DEFAULT = 200;
/** After a commit failed (a full filesystem), writes fail at once for this long before
 * the next retry: a retry costs a write attempt and, for the metadata, a reopen. */
export const STALL_RETRY_MS_DEFAULT = 1000;
/** A sealed segment whose live bytes fall under this fraction is a compaction candidate. */
export const COMPACT_LIVE_FRACTION = 0.5;
/** Free segments kept back from foreground writes so the compactor can always make
 * progress (it needs somewhere to copy live fragments to). */
export const RESERVED_SEGMENTS = 2;
/** Background compaction waits until writes have paused this long, unless free segments
 * fall under COMPACT_LOW_FREE_FRACTION of the pool: a burst of writes is not slowed by
 * cleaning that can wait (writes short of space compact in the foreground anyway). */
export const COMPACT_IDLE_MS_DEFAULT = 1000;
export const COMPACT_LOW_FREE_FRACTION = 0.25;
/** LevelDB block cache: the dominant fixed RAM cost (G5: <= 128 MiB fixed). */
export const META_CACHE_BYTES = 16 * 1024 * 1024;
/** LevelDB memtable size: larger batches absorb random-key inserts before compaction. */
export const META_WRITE_BUFFER_BYTES = 8 * 1024 * 1024;
/** Entries per metadata range scan (discard, open, check): bounds memory per step. */
export const SCAN_CHUNK_ENTRIES = 4096;
/** Default size of the engine's cache of recently read fragments (read-cache.ts):
 * about 8,000 slots of 4,112 bytes, i.e. 32 MiB of blocks read back. */
export const READ_CACHE_BYTES_DEFAULT = 32 * 1024 * 1024;
/** Sealed segment buffers kept for reuse; more are allocated (and dropped) under bursts. */
export const SEGMENT_BUFFERS_POOLED = 3;
/** Default physical capacity of a new pool file, as a multiple of its logical size:
 * worst case every block is incompressible and some garbage awaits compaction. */
export const FILE_CAPACITY_FACTOR = 1.125;
/** Problems listed in a check report before it only counts them (keeps --json small). */
export const CHECK_PROBLEMS_MAX = 100;
/** Least time between two background superblock records of the durable commit
 * sequence: each costs a pwrite + fdatasync of the pool, so under a stream of
 * FLUSHes this caps the extra syncs at 20/s. The record may lag durable metadata
 * by this much (harmless: it only has to never run ahead); close records at once. */
export const SEQ_RECORD_INTERVAL_MS = 50;

/** Bytes each of the write journal's two files may hold (a record holds at most
 * one write chunk, 4 MiB; a full file forces a durable commit). */
export const JOURNAL_FILE_BYTES = 64 * 1024 * 1024;
