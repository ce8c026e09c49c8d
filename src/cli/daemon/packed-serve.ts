// The serving side of `add --layout packed` (the daemon, or --foreground), and
// of `recover` (the same daemon with --recover): checks, opens or formats the
// pool, starts (or re-attaches) the device, writes the run record, reports
// readiness, then serves until SIGTERM/SIGINT or a stop from outside. A start
// that fails undoes what it did (device deleted, a pool it created removed)
// and is reported as one error; a failed recovery leaves the device quiesced.

import { existsSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setIoFlusher } from '../../native/index.js';
import { UcError } from '../../util/errors.js';
import { formatBytes } from '../../util/units.js';
import type { AddConfig } from '../add-config.js';
import { probeBacking, type BackingLock } from '../backing-lock.js';
import { exitCodeOf, EXIT_OK } from '../exit-codes.js';
import { formatError } from '../format-error.js';
import { toCliError } from '../cli-error.js';
import type { CliIo } from '../io.js';
import { defaultLogPath, writableLogDir, type Logger } from '../logger.js';
import type { PackedConfig } from '../packed-options.js';
import { requireFreeDeviceId, requireRoot, requireUblk } from '../preflight.js';
import { processStartTime, removeRunRecord, writeRunRecord, type RunRecord } from '../run-file.js';
import { packageVersion } from '../version.js';
import { claimPackedPool, preflightPackedPool, type OpenedPool, type PoolPlan } from './packed-pool.js';
import { startPackedDevice, type ServedPacked } from './packed-device.js';
import { ReadyReporter } from './ready-channel.js';
import { packedStatusLine, ServiceRun } from '../../server/service-run.js';

/** What the run record of a packed device holds besides the common fields. */
export interface PackedRunRecord extends RunRecord {
  readonly metaDir: string;
  readonly dedup: string;
  readonly compression: string;
}

/** Every check that needs neither the pool's content nor a device. */
export function preflightPacked(cfg: AddConfig, p: PackedConfig): PoolPlan {
  requireRoot();
  requireUblk();
  if (cfg.devId !== undefined && !p.recover) requireFreeDeviceId(cfg.devId);
  const plan = preflightPackedPool(cfg, p);
  // The pool file's own lock says whether it is served, whatever path names it.
  probeBacking(plan.backing.path);
  return plan;
}

function settleLogName(current: string, devId: number): string {
  const wanted = join(dirname(current), `ublkb${devId}.log`);
  if (wanted === current) return current;
  try {
    if (existsSync(wanted)) renameSync(wanted, `${wanted}.1`);
    renameSync(current, wanted);
    return wanted;
  } catch {
    return current;
  }
}

function waitForShutdownSignal(device: ServedPacked, log: Logger): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => resolve(sig);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal); // SIGHUP: logged and ignored (ServiceRun)
    device.stopped.then(
      () => resolve('device stopped from outside'),
      (err: unknown) => {
        log.error({ err }, 'device failed');
        resolve('device failure');
      },
    );
  });
}

export async function servePacked(cfg: AddConfig, p: PackedConfig, io: CliIo): Promise<number> {
  const reporter = new ReadyReporter(cfg.readyFd);
  const provisional = cfg.logProvisional || (cfg.logPath === undefined && cfg.devId === undefined);
  let logPath =
    cfg.logPath ??
    (cfg.devId !== undefined ? defaultLogPath(cfg.devId) : join(writableLogDir(), `ublkb-starting-${process.pid}.log`));
  let opened: OpenedPool | undefined;
  let lock: BackingLock | undefined;
  let device: ServedPacked | undefined;
  let log: Logger | undefined;
  let svc: ServiceRun | undefined;
  let recordId: number | undefined;
  const record = (devId: number): void => {
    recordId = devId;
    const rec: PackedRunRecord = {
      devId, pid: process.pid, backing: p.poolPath, sizeBytes: opened?.engine.logicalBytes ?? 0, layout: 'packed',
      queues: cfg.queues, depth: cfg.depth, logPath, startedAt: new Date().toISOString(), version: packageVersion(),
      startTicks: processStartTime(process.pid), metaDir: p.metaDir, dedup: p.dedup, compression: p.compression,
    };
    writeRunRecord(rec);
  };
  // Everything this daemon creates (pool, metadata, LevelDB's later files) is private.
  process.umask(0o077);
  try {
    preflightPacked(cfg, p);
    svc = ServiceRun.open(logPath);
    log = svc.log;
    log.info({ argv: process.argv.slice(2), version: packageVersion() }, p.recover ? 'recovering' : 'starting');
    // Memory reclaim must never wait on writeback to the device we serve.
    setIoFlusher();
    const claimed = await claimPackedPool(cfg, p).catch((e: unknown) => {
      throw toCliError(e, { pool: p.poolPath }); // an odd throw while opening: the pool's contents
    });
    opened = claimed.opened;
    lock = claimed.lock;
    const note = opened.note;
    reporter.send({ type: 'backing', path: p.poolPath, action: 'none', fromBytes: 0, note });
    if (note && cfg.readyFd === undefined) io.err(`ublk-compress: ${note}\n`);
    if (note) log.info({ pool: p.poolPath, action: opened.action }, note);
    const logRef = log;
    const svcRef = svc;
    device = await startPackedDevice({
      engine: opened.engine,
      packed: p,
      devId: cfg.devId,
      queues: cfg.queues,
      depth: cfg.depth,
      startTimeoutMs: cfg.startTimeoutMs,
      log,
      onAdded: (devId) => {
        if (provisional) logPath = settleLogName(logPath, devId);
        svcRef.logMoved(logPath);
        reporter.send({ type: 'added', devId, logPath });
        record(devId);
        svcRef.added(devId);
        logRef.info({ devId }, 'run record written');
      },
    });
    if (p.recover) record(device.devId);
    log = log.child({ devId: device.devId });
    log.info({ size: formatBytes(opened.engine.logicalBytes), pool: p.poolPath, meta: p.metaDir }, 'device ready');
    reporter.send({ type: 'ready', devId: device.devId, path: device.path, logPath });
    const live = device;
    const figures = { devId: live.devId, backing: p.poolPath, layout: 'packed', sizeBytes: opened.engine.logicalBytes, snapshot: () => live.stats() } as const;
    svc.live(live.devId, live.path, {
      status: () => packedStatusLine(live.stats()), watchDir: dirname(p.poolPath), metrics: cfg.metrics && { address: cfg.metrics, figures },
    });
    reporter.close();
    if (cfg.readyFd === undefined) io.out(`${device.path}\n`);
  } catch (err) {
    log?.error({ err, errno: (err as UcError).errno }, p.recover ? 'recovery failed' : 'start failed');
    if (recordId !== undefined && !p.recover) removeRunRecord(recordId, process.pid);
    if (opened && !device) await opened.undo().catch((e: unknown) => log?.error({ err: e }, 'undo failed'));
    lock?.release();
    svc?.close();
    const uc = toCliError(err);
    reporter.send({ type: 'error', code: uc.code, message: uc.message, errno: uc.errno });
    reporter.close();
    if (cfg.readyFd === undefined) io.err(formatError(uc));
    return exitCodeOf(uc);
  }
  const why = await waitForShutdownSignal(device, log);
  log.info({ why }, 'stopping');
  svc.stopping(device.devId, device.path);
  let status = EXIT_OK;
  try {
    await device.shutdown();
    log.info('pool closed; device stopped and deleted');
  } catch (err) {
    log.error({ err }, 'shutdown failed');
    status = exitCodeOf(err);
  } finally {
    removeRunRecord(device.devId, process.pid);
    lock?.release(); // only now: the engine has closed the pool
    svc.close();
  }
  return status;
}
