// The serving side of `add` (the daemon, or `add --foreground`): prepare the
// backing file, create and start the device, write the run record, report
// readiness, then serve until SIGTERM/SIGINT or until the device is stopped
// from outside. Any failure before readiness undoes everything this process
// did (device deleted, run record removed, created file removed, extension
// undone) and is reported as one error.

import { existsSync, renameSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setIoFlusher } from '../../native/index.js';
import { UcError } from '../../util/errors.js';
import { formatBytes } from '../../util/units.js';
import type { AddConfig } from '../add-config.js';
import { preflightAdd } from '../add-preflight.js';
import type { BackingLock } from '../backing-lock.js';
import { applyDirectBacking, claimDirectBacking, describePlan } from '../direct-backing.js';
import { exitCodeOf, EXIT_OK } from '../exit-codes.js';
import { formatError } from '../format-error.js';
import { toCliError } from '../cli-error.js';
import type { CliIo } from '../io.js';
import { defaultLogPath, openLogger, writableLogDir, type Logger } from '../logger.js';
import { packageVersion } from '../version.js';
import { processStartTime, removeRunRecord, writeRunRecord } from '../run-file.js';
import { startDirectDevice, type ServedDevice } from './direct-device.js';
import { ReadyReporter } from './ready-channel.js';

/** Renames a provisional log to ublkb<N>.log, keeping an older one as .1. */
function settleLogName(current: string, devId: number): string {
  const wanted = join(dirname(current), `ublkb${devId}.log`);
  try {
    if (existsSync(wanted)) renameSync(wanted, `${wanted}.1`);
    renameSync(current, wanted);
    return wanted;
  } catch {
    return current;
  }
}

function waitForShutdownSignal(device: ServedDevice, log: Logger): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => resolve(sig);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    process.once('SIGHUP', onSignal);
    device.stopped.then(
      () => resolve('device stopped from outside'),
      (err: unknown) => {
        log.error({ err }, 'device failed');
        resolve('device failure');
      },
    );
  });
}

export async function serveForeground(cfg: AddConfig, io: CliIo): Promise<number> {
  const reporter = new ReadyReporter(cfg.readyFd);
  // Without --log and --id the device number is not known yet: log under a
  // provisional name and rename the file to ublkb<N>.log after ADD_DEV.
  const provisional = cfg.logProvisional || (cfg.logPath === undefined && cfg.devId === undefined);
  let logPath =
    cfg.logPath ??
    (cfg.devId !== undefined ? defaultLogPath(cfg.devId) : join(writableLogDir(), `ublkb-starting-${process.pid}.log`));
  let undoBacking: (() => void) | undefined;
  let lock: BackingLock | undefined;
  let device: ServedDevice | undefined;
  let log: Logger | undefined;
  let addedId: number | undefined;
  process.umask(0o077); // a created backing file, the control socket, logs: private
  try {
    const claimed = claimDirectBacking(preflightAdd(cfg), cfg.sizeBytes);
    lock = claimed.lock;
    const plan = claimed.plan;
    if (lock.created) undoBacking = () => unlinkSync(plan.path);
    log = openLogger(logPath);
    log.info({ argv: process.argv.slice(2), version: packageVersion() }, 'starting');
    // Memory reclaim must never wait on writeback to the device we serve.
    setIoFlusher();
    const note = describePlan(plan);
    reporter.send({ type: 'backing', path: plan.path, action: plan.action, fromBytes: plan.fromBytes, note });
    if (note && cfg.readyFd === undefined) io.err(`ublk-compress: ${note}\n`);
    undoBacking = applyDirectBacking(plan);
    if (note) log.info({ backing: plan.path, action: plan.action }, note);
    device = await startDirectDevice({
      backing: plan.path,
      sizeBytes: plan.sizeBytes,
      devId: cfg.devId,
      queues: cfg.queues,
      depth: cfg.depth,
      startTimeoutMs: cfg.startTimeoutMs,
      preallocate: cfg.preallocate,
      log,
      onAdded: (devId) => {
        addedId = devId;
        if (provisional) logPath = settleLogName(logPath, devId);
        reporter.send({ type: 'added', devId, logPath });
        writeRunRecord({
          devId,
          pid: process.pid,
          backing: plan.path,
          sizeBytes: plan.sizeBytes,
          layout: cfg.layout,
          queues: cfg.queues,
          depth: cfg.depth,
          logPath,
          startedAt: new Date().toISOString(),
          version: packageVersion(),
          startTicks: processStartTime(process.pid),
        });
      },
    });
    log = log.child({ devId: device.devId });
    log.info({ size: formatBytes(plan.sizeBytes), backing: plan.path }, 'device ready');
    undoBacking = undefined; // from here on the file holds the user's data
    reporter.send({ type: 'ready', devId: device.devId, path: device.path, logPath });
    reporter.close();
    if (cfg.readyFd === undefined) io.out(`${device.path}\n`);
  } catch (err) {
    log?.error({ err, errno: (err as UcError).errno }, 'start failed');
    if (device) await device.shutdown().catch((e: unknown) => log?.error({ err: e }, 'cleanup failed'));
    if (addedId !== undefined) removeRunRecord(addedId, process.pid);
    try {
      undoBacking?.();
    } catch (e) {
      log?.error({ err: e }, 'could not undo the backing file change');
    }
    lock?.release();
    const uc = toCliError(err);
    reporter.send({ type: 'error', code: uc.code, message: uc.message, errno: uc.errno });
    reporter.close();
    if (cfg.readyFd === undefined) io.err(formatError(uc));
    return exitCodeOf(uc);
  }
  const why = await waitForShutdownSignal(device, log);
  log.info({ why }, 'stopping');
  let status = EXIT_OK;
  try {
    await device.shutdown();
    log.info('stopped and deleted');
  } catch (err) {
    log.error({ err }, 'shutdown failed');
    status = exitCodeOf(err);
  } finally {
    removeRunRecord(device.devId, process.pid);
    lock?.release(); // only now: the device no longer uses the backing file
  }
  return status;
}
