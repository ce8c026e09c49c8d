// What a serving process is told to serve: the validated `add` options
// (AddConfig, built by the CLI's parser in src/cli/add-config.ts) and, for
// the packed layout, PackedConfig. Plain data: the parent `add` and the
// daemon it spawns build the same objects from the same flags.

import type { ListenAddress } from './metrics-http.js';

export type Layout = 'direct' | 'packed';
export type DedupChoice = 'off' | 'on' | 'verify';
export type CompressChoice = 'lz4' | 'none';

export const LAYOUTS: readonly Layout[] = ['direct', 'packed'];
/** `--zero-copy` (direct layout): docs/kernels.md, "Zero copy on the 1:1 path". */
export type ZeroCopyChoice = 'auto' | 'on' | 'off';
export const ZERO_COPY_CHOICES: readonly ZeroCopyChoice[] = ['auto', 'on', 'off'];
export const DEDUP_CHOICES: readonly DedupChoice[] = ['off', 'on', 'verify'];
export const COMPRESS_CHOICES: readonly CompressChoice[] = ['lz4', 'none'];
export const DEFAULT_QUEUES = 1;
export const DEFAULT_DEPTH = 128;

export interface AddConfig {
  /** Absolute path of the backing file or device. */
  readonly backing: string;
  readonly sizeBytes: number | undefined;
  readonly layout: Layout;
  readonly queues: number;
  readonly depth: number;
  readonly devId: number | undefined;
  readonly foreground: boolean;
  /** Direct layout: fill the backing file's holes at start (docs/direct-paths.md). */
  readonly preallocate: boolean;
  /** Direct layout: zero copy where the kernel offers it (auto), required (on), never (off). */
  readonly zeroCopy: ZeroCopyChoice;
  /** Absolute, when given. */
  readonly logPath: string | undefined;
  readonly startTimeoutMs: number;
  /** `--metrics`: where the daemon serves /metrics. */
  readonly metrics?: ListenAddress;
  /** `--stats-group`: the gid that may read stats (a second, stats-only socket). */
  readonly statsGid?: number;
  readonly readyFd: number | undefined;
  readonly logProvisional: boolean;
}

export interface PackedConfig {
  /** Absolute pool path. */
  readonly poolPath: string;
  /** Absolute metadata directory. */
  readonly metaDir: string;
  /** True when --meta was given (else the default beside the pool). */
  readonly metaExplicit: boolean;
  readonly dedup: DedupChoice;
  readonly compression: CompressChoice;
  /** RAM budget of the engine's metadata cache and dedup filter (engine option cacheMib). */
  readonly cacheMib: number;
  /** Re-attach to device cfg.devId through user recovery instead of adding one. */
  readonly recover: boolean;
}
