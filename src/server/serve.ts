// The serving process's one lifecycle, for both layouts (the daemon `add`
// spawns, `add --foreground`, and `recover`):
//
//   preflight -> open the target -> create (or recover) the device
//   -> run record -> ready -> wait for a signal or a stop from outside
//   -> shutdown
//
// The layout's part is a ServeTarget (./targets/). A start that fails undoes
// what this process did (the target knows what: device deleted, a file or
// pool it created removed, an extension undone; a failed recovery leaves the
// device quiesced), removes the run record, reports one error on the ready
// channel and throws it. The CLI turns it into an exit status. Around the
// device's life a ServiceRun does the service duties: journal or reopenable
// log, SIGUSR2/SIGHUP, stable name, sd_notify, fullness watch, /metrics.

import { existsSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setIoFlusher } from '../native/index.js';
import type { UcError } from '../util/errors.js';
import type { AddConfig } from './config.js';
import { startLogPath, type Logger } from './logger.js';
import { formatListenAddress } from './metrics-http.js';
import { ReadyReporter } from './ready-channel.js';
import { processStartTime, removeRunRecord, writeRunRecord } from './run-file.js';
import type { BackingNote, OpenedTarget, ServedDevice, ServeTarget } from './serve-target.js';
import { packedStatusLine, ServiceRun, type LiveOptions } from './service-run.js';
import { toUserError } from './user-error.js';
import { packageVersion } from './version.js';

/** Where a foreground run prints the device path and notes (the CLI's io). */
export interface ServeOutput {
  out(text: string): void;
  err(text: string): void;
}

export interface ServeOutcome {
  /** Set when the device served and stopping it failed (logged already). */
  readonly shutdownError?: unknown;
}

interface Run {
  readonly cfg: AddConfig;
  readonly target: ServeTarget;
  readonly io: ServeOutput;
  readonly reporter: ReadyReporter;
  /** Without --log and --id the log has a provisional name until ADD_DEV names the device. */
  readonly provisional: boolean;
  logPath: string;
  log?: Logger;
  svc?: ServiceRun;
  opened?: OpenedTarget;
  device?: ServedDevice;
  /** Set once ADD_DEV created a device and its run record was written. */
  addedId?: number;
}

/** Renames a provisional log to ublkb<N>.log, keeping an older one as .1. */
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

function waitForShutdownSignal(device: ServedDevice, log: Logger): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => resolve(sig);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal); // SIGHUP is logged and ignored (ServiceRun)
    device.stopped.then(
      () => resolve('device stopped from outside'),
      (err: unknown) => {
        log.error({ err }, 'device failed');
        resolve('device failure');
      },
    );
  });
}

function newRun(cfg: AddConfig, target: ServeTarget, io: ServeOutput): Run {
  const provisional = cfg.logProvisional || (cfg.logPath === undefined && cfg.devId === undefined);
  return { cfg, target, io, reporter: new ReadyReporter(cfg.readyFd), provisional, logPath: startLogPath(cfg) };
}

function writeRecord(run: Run, opened: OpenedTarget, devId: number): void {
  writeRunRecord({
    devId,
    pid: process.pid,
    backing: opened.backing,
    sizeBytes: opened.sizeBytes,
    layout: run.target.layout,
    queues: run.cfg.queues,
    depth: run.cfg.depth,
    logPath: run.logPath,
    startedAt: new Date().toISOString(),
    version: packageVersion(),
    startTicks: processStartTime(process.pid),
    ...(run.cfg.metrics ? { metrics: formatListenAddress(run.cfg.metrics) } : {}),
    ...(run.cfg.statsGid !== undefined ? { statsGid: run.cfg.statsGid } : {}),
    ...opened.recordFields,
  });
}

function announce(run: Run, note: BackingNote): void {
  run.reporter.send({ type: 'backing', ...note });
  if (note.note && run.cfg.readyFd === undefined) run.io.err(`ublk-compress: ${note.note}\n`);
}

function onAdded(run: Run, opened: OpenedTarget, devId: number): void {
  run.addedId = devId;
  if (run.provisional) run.logPath = settleLogName(run.logPath, devId);
  run.svc?.logMoved(run.logPath);
  run.svc?.added(devId);
  run.reporter.send({ type: 'added', devId, logPath: run.logPath });
  writeRecord(run, opened, devId);
  run.log?.info({ devId }, 'run record written');
}

/** What the live device shows systemd and /metrics, and where its backing grows. */
function liveOptions(run: Run, opened: OpenedTarget, device: ServedDevice): LiveOptions {
  const snapshot = device.stats?.bind(device);
  const onFile = !opened.backing.startsWith('/dev/');
  const sizeBytes = (): number => device.sizeBytes(); // an online grow changes it
  const figures = { devId: device.devId, backing: opened.backing, layout: run.target.layout, sizeBytes, snapshot };
  return {
    status: snapshot && (() => packedStatusLine(snapshot())),
    watchDir: onFile ? dirname(opened.backing) : undefined,
    metrics: run.cfg.metrics && { address: run.cfg.metrics, figures },
  };
}

async function start(run: Run): Promise<{ device: ServedDevice; opened: OpenedTarget; log: Logger }> {
  const { cfg, target } = run;
  target.preflight();
  const svc = (run.svc = ServiceRun.open(run.logPath));
  const log = (run.log = svc.log);
  log.info({ argv: process.argv.slice(2), version: packageVersion() }, target.recovering ? 'recovering' : 'starting');
  // Memory reclaim must never wait on writeback to the device we serve.
  setIoFlusher();
  const opened = (run.opened = await target.open(log, (note) => announce(run, note)));
  const device = (run.device = await opened.start({ log, onAdded: (devId) => onAdded(run, opened, devId), statsGid: cfg.statsGid }));
  if (target.recovering) writeRecord(run, opened, device.devId);
  const devLog = (run.log = log.child({ devId: device.devId }));
  devLog.info(opened.readyFields, 'device ready');
  run.reporter.send({ type: 'ready', devId: device.devId, path: device.path, logPath: run.logPath });
  svc.live(device.devId, device.path, liveOptions(run, opened, device));
  run.reporter.close();
  if (cfg.readyFd === undefined) run.io.out(`${device.path}\n`);
  return { device, opened, log: devLog };
}

/** Undoes a failed start and reports it; returns the error to throw. */
async function failStart(run: Run, err: unknown): Promise<UcError> {
  const log = run.log;
  log?.error({ err, errno: (err as UcError).errno }, run.target.recovering ? 'recovery failed' : 'start failed');
  await run.opened?.abort(run.device).catch((e: unknown) => log?.error({ err: e }, 'undo failed'));
  if (run.addedId !== undefined) removeRunRecord(run.addedId, process.pid);
  run.opened?.lock.release();
  run.svc?.close();
  const uc = toUserError(err);
  run.reporter.send({ type: 'error', code: uc.code, message: uc.message, errno: uc.errno });
  run.reporter.close();
  return uc;
}

/** Serves `target` until a signal or a stop from outside; throws when the start fails. */
export async function serve(cfg: AddConfig, target: ServeTarget, io: ServeOutput): Promise<ServeOutcome> {
  const run = newRun(cfg, target, io);
  // Whatever this process creates (backing file, pool, metadata, socket, logs) is private.
  process.umask(0o077);
  let started: Awaited<ReturnType<typeof start>>;
  try {
    started = await start(run);
  } catch (err) {
    throw await failStart(run, err);
  }
  const { device, opened, log } = started;
  const why = await waitForShutdownSignal(device, log);
  log.info({ why }, 'stopping');
  run.svc?.stopping(device.devId, device.path);
  try {
    await device.shutdown();
    log.info(opened.stoppedMessage);
    return {};
  } catch (err) {
    log.error({ err }, 'shutdown failed');
    return { shutdownError: err };
  } finally {
    removeRunRecord(device.devId, process.pid);
    opened.lock.release(); // only now: the device no longer uses the backing
    run.svc?.close();
  }
}
