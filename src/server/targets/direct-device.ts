// Binds the 1:1 target to a ublk device: one io_uring shared by the ublk
// queues and the backing-file I/O (docs/design.md, "The data path"), the DirectTarget
// over it, and the UblkDevice of src/device dispatching requests to it. On
// the native request path the addon serves reads and writes itself, over its
// own descriptor of the backing (O_DIRECT where the filesystem allows it),
// and where the file's extents allow, on the raw device under it
// (direct-mapped.ts, docs/direct-paths.md).

import { hasZeroCopy, ringEntries, UblkDevice, type ServeOptions, type ZeroCopyWish } from '../../device/index.js';
import type { DispatchStats } from '../../device/queue-dispatch.js';
import { DirectTarget } from '../../direct/direct-target.js';
import { closeFd, openDirectIo } from '../../direct/odirect.js';
import { preallocate } from '../../direct/preallocate.js';
import { isMemoryFile, openBackingFile, type BackingFile, type FileIdentity } from '../../io/index.js';
import { IoRing, type DirectRequestError, type UblkQueue } from '../../native/index.js';
import { UcError } from '../../util/errors.js';
import { loggedTarget } from '../logged-target.js';
import { NoSpaceEpisode } from '../no-space-episode.js';
import type { ZeroCopyChoice } from '../config.js';
import type { ResizeResult } from '../control-protocol.js';
import type { Logger } from '../logger.js';
import type { ServedDevice, StartHooks } from '../serve-target.js';
import { closeRingWhenIdle, DeviceSession, type DeviceGeometry } from './device-session.js';
import { startDirectMapped, type DirectMappedPath } from './direct-mapped.js';
import { growDirectOnline } from './direct-resize.js';
import {
  logNativeErrors,
  nativeWritesOf,
  requestPathFromEnv,
  serveStats,
  zeroCopyWish,
  type BackingIo,
  type DirectRequestPath,
  type DirectServeStats,
} from './direct-native.js';

export interface ServedDirectDevice extends ServedDevice {
  readonly requestPath: DirectRequestPath;
  /** Which I/O serves the device, with per-path request counts. */
  pathStats(): DirectServeStats;
}

export interface DirectDeviceOptions extends DeviceGeometry, StartHooks {
  readonly backing: string;
  /** The inode the daemon locked: every open of `backing` refuses another file. */
  readonly lockedAs: FileIdentity;
  readonly startTimeoutMs: number;
  /** Default: native, unless UBLK_DIRECT_PATH=js. */
  readonly requestPath?: DirectRequestPath;
  /** Write zeros over the backing file's holes and unwritten extents first, so the whole file maps. */
  readonly preallocate?: boolean;
  /** `--zero-copy` (default auto); when recovering, the device's flags decide. */
  readonly zeroCopyChoice?: ZeroCopyChoice;
  /** Re-attach to device devId (user recovery) instead of adding one. */
  readonly recover?: boolean;
}

/** The backing file as the device serves it: the ring, the JS target, the native path's descriptor. */
interface DirectBacking {
  readonly ring: IoRing;
  readonly file: BackingFile;
  readonly direct: DirectTarget;
  /** The native path's own descriptor (undefined: the JS path, or inline copies of a memory file). */
  nativeFd: number | undefined;
  readonly inlineRw: boolean;
  readonly backingIo: BackingIo;
  /** What ADD_DEV is asked for zero copy. */
  readonly zeroCopy: ZeroCopyWish;
  /** Set once the device's session exists (its log); closed before nativeFd. */
  mapped?: DirectMappedPath;
}

async function openBacking(opts: DirectDeviceOptions, requestPath: DirectRequestPath, existing?: UblkDevice): Promise<DirectBacking> {
  // A device being recovered keeps the request path its flags imply.
  const choice = existing === undefined ? (opts.zeroCopyChoice ?? 'auto') : existing.zeroCopy ? 'on' : 'off';
  const offered = choice === 'auto' && hasZeroCopy(await UblkDevice.kernelFeatures());
  if (opts.preallocate) opts.log.info({ bytes: await preallocate(opts.backing, opts.sizeBytes, opts.lockedAs) }, 'preallocated');
  // Every tag's command plus one backing-file operation per request.
  const ring = new IoRing({ entries: ringEntries(2 * opts.queues * opts.depth) });
  let file: BackingFile;
  try {
    file = await openBackingFile(opts.backing, { ring, lockedAs: opts.lockedAs });
  } catch (err) {
    ring.close();
    throw err;
  }
  const direct = new DirectTarget(file, opts.sizeBytes);
  try {
    const memory = isMemoryFile(opts.backing);
    const zeroCopy = zeroCopyWish(choice, requestPath, memory, offered);
    // Inline copies cannot reach the request's pages: zero copy goes through the ring.
    const inlineRw = requestPath === 'native' && memory && zeroCopy === 'off';
    const nativeFd = requestPath === 'native' && !inlineRw ? openDirectIo(opts.backing, opts.lockedAs) : undefined;
    const backingIo: BackingIo = inlineRw ? 'memory file, inline copy' : nativeFd === undefined ? 'buffered file' : 'O_DIRECT file';
    return { ring, file, direct, nativeFd, inlineRw, backingIo, zeroCopy };
  } catch (err) {
    await direct.close().catch(() => {});
    ring.close();
    throw new UcError('UC_IO', `cannot open backing ${opts.backing} for direct I/O: ${(err as Error).message}`, { cause: err });
  }
}

/** Closes the file, the native descriptor and (when idle) the ring: after the queues drained. */
async function closeBacking(b: DirectBacking, log: Logger): Promise<void> {
  await b.direct.close().catch((err: unknown) => log.error({ err }, 'closing the backing file failed'));
  try {
    b.mapped?.close();
    closeFd(b.nativeFd); // the queues are closed (drained) or the process is about to exit
  } finally {
    b.nativeFd = undefined;
  }
  closeRingWhenIdle(b.ring, log);
}

/** The device to re-attach to, after checking it is this backing's (its size). */
async function openForRecovery(opts: DirectDeviceOptions): Promise<UblkDevice> {
  if (opts.devId === undefined) throw new UcError('UC_INVALID_ARGUMENT', 'recovery needs a device id');
  const device = await UblkDevice.open(opts.devId);
  if (device.sizeBytes !== opts.sizeBytes) {
    device.close();
    throw new UcError(
      'UC_INVALID_ARGUMENT',
      `${device.path} is ${device.sizeBytes} bytes but backing ${opts.backing} is served as ${opts.sizeBytes}: not this backing's device`,
    );
  }
  return device;
}

/** `fn` runs after the previous call has settled (two resizes never interleave). */
function oneAtATime<A, R>(fn: (arg: A) => Promise<R>): (arg: A) => Promise<R> {
  let last: Promise<unknown> = Promise.resolve();
  return (arg) => {
    const run = last.then(() => fn(arg));
    last = run.catch(() => undefined);
    return run;
  };
}

export async function startDirectDevice(opts: DirectDeviceOptions): Promise<ServedDirectDevice> {
  const requestPath = opts.requestPath ?? requestPathFromEnv();
  const existing = opts.recover ? await openForRecovery(opts) : undefined;
  let b: DirectBacking;
  try {
    b = await openBacking(opts, requestPath, existing);
  } catch (err) {
    existing?.close();
    throw err;
  }
  const queues: UblkQueue[] = [];
  let zeroCopy = false;
  const sizeNow = (): number | undefined => session.device?.sizeBytes; // an online grow changes it
  const stats = (js: DispatchStats): DirectServeStats =>
    serveStats(requestPath, b.mapped?.backingIo(b.backingIo) ?? b.backingIo, queues, js, zeroCopy, b.mapped?.report(), sizeNow());
  const session: DeviceSession = new DeviceSession(opts.log, {
    beforeStop: () => b.direct.flush().catch((err: unknown) => session.log.error({ err }, 'flush before stop failed')),
    drained: (device) => session.log.info(stats(device.stats), 'request paths'),
    release: () => closeBacking(b, session.log),
  });
  // After every descriptor of the backing is open: it guards against other openers.
  if (requestPath === 'native' && !b.inlineRw) b.mapped = startDirectMapped(opts.backing, b.nativeFd, b.file.fd, () => session.log);
  // One full-filesystem episode for both paths: a write that succeeds on either ends it.
  const noSpace = new NoSpaceEpisode();
  try {
    const device = existing ?? (await session.add({ ...opts, zeroCopy: b.zeroCopy }, opts));
    zeroCopy = device.zeroCopy;
    const serve: ServeOptions = {
      ...session.serveOptions(opts.startTimeoutMs),
      ring: b.ring,
      onQueue: (queue) => {
        queues.push(queue);
        if (requestPath !== 'native') return;
        const onErrors = (errors: readonly DirectRequestError[]): void =>
          logNativeErrors(session.log, errors, noSpace, nativeWritesOf(queues));
        queue.setDirect(b.nativeFd ?? b.file.fd, opts.sizeBytes, onErrors, { inlineRw: b.inlineRw, map: b.mapped?.map });
      },
    };
    const target = loggedTarget(b.direct, session.log, noSpace);
    if (existing) {
      session.device = existing;
      session.log = session.log.child({ devId: existing.devId });
      session.log.info({ flags: `0x${existing.info.flags.toString(16)}`, state: existing.info.state }, 'recovering');
      await existing.recover(target, serve);
    } else {
      await device.start(target, serve);
    }
    const pathStats = (): DirectServeStats => stats(device.stats);
    const accept = (sizeBytes: number): void => {
      b.direct.growTo(sizeBytes);
      if (requestPath === 'native') for (const q of queues) q.setDirectSize(sizeBytes);
    };
    const parts = { device, file: b.file, preallocate: opts.preallocate ?? false, accept, log: session.log };
    const grow = (sizeBytes: number): Promise<ResizeResult> =>
      growDirectOnline({ ...parts, remapRange: b.mapped?.remapRange }, sizeBytes);
    await session.serveControl({ directStats: pathStats, resize: oneAtATime(grow) }, opts.statsGid);
    session.log.info({ requestPath, backingIo: pathStats().backingIo, zeroCopy }, 'serving');
    return { ...session.served(), requestPath, pathStats };
  } catch (err) {
    if (existing) await abandonRecovery(session, b);
    else await session.shutdownAfterFailure();
    throw err;
  }
}

/** A failed recovery leaves the device as it was found (quiesced) for another attempt or `del`. */
async function abandonRecovery(session: DeviceSession, b: DirectBacking): Promise<void> {
  const device = session.device;
  if (device && device.state !== 'idle') await device.stop().catch(() => undefined);
  await closeBacking(b, session.log).catch(() => undefined);
  await session.closeControl();
}
