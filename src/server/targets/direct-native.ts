// The daemon's side of the 1:1 layout's native request path: choosing it
// (UBLK_DIRECT_PATH), logging the failures it committed, and the per-path
// request counts that say which I/O serves the device (`stats -n ID` and
// the `list` columns render them: src/cli/direct-status.ts).

import type { ZeroCopyWish } from '../../device/index.js';
import type { DispatchStats } from '../../device/queue-dispatch.js';
import type { ZeroCopyChoice } from '../config.js';
import { UBLK_IO_OP, type DirectMapStats, type DirectPathStats, type DirectRequestError, type UblkQueue } from '../../native/index.js';
import { UcError } from '../../util/errors.js';
import type { Logger } from '../logger.js';
import { NO_SPACE_NOTE, NoSpaceEpisode } from '../no-space-episode.js';
import { ENOSPC } from '../../util/errno.js';

export type DirectRequestPath = 'native' | 'js';
export type BackingIo = 'direct-mapped' | 'O_DIRECT file' | 'buffered file' | 'memory file, inline copy';

/** The direct-mapped path: its raw device and map, or why the file path serves instead. */
export interface MappingReport {
  /** The raw device under the backing file, when mapped. */
  device?: string;
  /** Why there is no direct mapping (or why it ended). */
  reason?: string;
  map?: DirectMapStats;
}

export interface DirectServeStats {
  /** The device's size now (after any online grow); absent from daemons before it was reported. */
  sizeBytes?: number;
  requestPath: DirectRequestPath;
  /** How the native path reaches the backing (the JS path always uses a buffered descriptor). */
  backingIo: BackingIo;
  /** Absent on the JS path and for files in memory. */
  mapping?: MappingReport;
  /** The device negotiated zero copy (AUTO_BUF_REG + USER_COPY): native reads and writes use the request's pages. */
  zeroCopy: boolean;
  /** Requests completed by the native path, by kind (zeros on the JS path). */
  native: DirectPathStats;
  /** Requests the JS target served (all of them on the JS path; the unusual ones otherwise). */
  js: DispatchStats;
}

/**
 * What the device asks of ADD_DEV for `--zero-copy`: 'on' requires it; 'auto'
 * asks where it was measured to win (docs/kernels.md, "Zero copy on the 1:1
 * path"): a file in memory, whose reads and writes then go through the ring
 * on the request's pages instead of inline copies. A file on a disk
 * filesystem or a block device copies (copy won 1 MiB writes and 4 KiB
 * reads there); the JS path gains nothing from it. `offered`: the kernel
 * offers it (else a memory file keeps its inline copies).
 */
export function zeroCopyWish(
  choice: ZeroCopyChoice,
  requestPath: DirectRequestPath,
  memoryFile: boolean,
  offered: boolean,
): ZeroCopyWish {
  if (choice === 'on') return 'required';
  if (choice === 'off' || !offered) return 'off';
  return requestPath === 'native' && memoryFile ? 'if-offered' : 'off';
}

/** UBLK_DIRECT_PATH=js forces the JS request path (to compare the two in one boot). */
export const DIRECT_PATH_ENV = 'UBLK_DIRECT_PATH';

const ZERO_NATIVE: DirectPathStats = {
  reads: 0,
  writes: 0,
  flushes: 0,
  discards: 0,
  writeZeroes: 0,
  readBytes: 0,
  writeBytes: 0,
  errors: 0,
  toJs: 0,
  inflight: 0,
  rawReads: 0,
  rawWrites: 0,
  zeroCopyReads: 0,
  zeroCopyWrites: 0,
  userCopies: 0,
};

const OP_NAMES: Record<number, string> = {
  [UBLK_IO_OP.READ]: 'read',
  [UBLK_IO_OP.WRITE]: 'write',
  [UBLK_IO_OP.FLUSH]: 'flush',
  [UBLK_IO_OP.DISCARD]: 'discard',
  [UBLK_IO_OP.WRITE_ZEROES]: 'write-zeroes',
};

export function requestPathFromEnv(env: NodeJS.ProcessEnv = process.env): DirectRequestPath {
  const v = env[DIRECT_PATH_ENV];
  if (v === undefined || v === '' || v === 'native') return 'native';
  if (v === 'js') return 'js';
  throw new UcError('UC_INVALID_ARGUMENT', `${DIRECT_PATH_ENV} must be 'native' or 'js' (got '${v}')`);
}

/** What a batch of native failures logs: the first failure, and how many. */
interface FailureGroup {
  op: string;
  errno: number;
  count: number;
  firstLba: number;
  blocks: number;
}

/**
 * Logs one batch of failures the native path committed (one wake of one
 * queue) as one line per kind (op and errno), with a count, the first
 * failure's lba and blocks. ENOSPC follows `noSpace`: the first failure of
 * an episode is logged, the rest are counted in nothing but the `errors`
 * counter until a write succeeds (`nativeWrites`: the native writes
 * completed so far). A logger that throws (a full log filesystem) must not
 * end the daemon: this runs in the addon's callback.
 */
export function logNativeErrors(
  log: Logger,
  errors: readonly DirectRequestError[],
  noSpace: NoSpaceEpisode = new NoSpaceEpisode(),
  nativeWrites = 0,
): void {
  noSpace.nativeWrites(nativeWrites);
  const groups = new Map<string, FailureGroup>();
  for (const e of errors) {
    const op = OP_NAMES[e.op] ?? `op ${e.op}`;
    const key = `${op} ${e.errno}`;
    const group = groups.get(key);
    if (group !== undefined) {
      group.count += 1;
      continue;
    }
    if (e.errno === ENOSPC && !noSpace.failed()) continue;
    const flush = e.op === UBLK_IO_OP.FLUSH;
    groups.set(key, { op, errno: e.errno, count: 1, firstLba: flush ? 0 : e.startSector / 8, blocks: flush ? 0 : e.nrSectors / 8 });
  }
  try {
    for (const g of groups.values()) {
      const note = g.errno === ENOSPC ? NO_SPACE_NOTE : undefined;
      log.error({ ...g, path: 'native', ...(note ? { note } : {}) }, 'requests failed');
    }
  } catch {
    // nowhere left to say it; the errors counter still counts every failure
  }
}

/** Writes the native path completed on `queues` (successes only: failures count as errors). */
export function nativeWritesOf(queues: readonly UblkQueue[]): number {
  let writes = 0;
  for (const q of queues) writes += q.directStats()?.writes ?? 0;
  return writes;
}

export function serveStats(
  requestPath: DirectRequestPath,
  backingIo: BackingIo,
  queues: readonly UblkQueue[],
  js: DispatchStats,
  zeroCopy: boolean,
  mapping?: MappingReport,
  sizeBytes?: number,
): DirectServeStats {
  const native = { ...ZERO_NATIVE };
  for (const q of queues) {
    native.userCopies += q.userCopies(); // JS-served requests: on the JS path too
    const s = q.directStats();
    if (s === null) continue;
    for (const k of Object.keys(s) as Array<keyof typeof s>) native[k] += s[k];
  }
  const size = sizeBytes === undefined ? {} : { sizeBytes };
  return { ...size, requestPath, backingIo, ...(mapping ? { mapping } : {}), zeroCopy, native, js: { ...js } };
}
