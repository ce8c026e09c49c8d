// One serving daemon's service duties, in one object the serve loop drives:
// logging (journal or a reopenable file, SIGUSR2, SIGHUP ignored), the stable
// name and udev tag, READY=1 / STATUS= / STOPPING=1 to systemd, and the
// fullness watch of the pool's filesystem. Each call is one line in the loop.

import type { Logger } from 'pino';
import { formatBytes } from '../util/units.js';
import type { StatsSnapshot } from '../cli/packed-stats.js';
import { watchPoolFilesystem } from './fs-watch.js';
import { openServiceLogger, type LogSink } from './log-destination.js';
import { installLogSignals } from './log-signals.js';
import { serviceDeviceAdded, serviceDeviceLive, serviceStatus, serviceStopping } from './service-events.js';

const STATUS_INTERVAL_MS = 30_000;

/** The STATUS= line of a packed device: what it holds and its ratio. */
export function packedStatusLine(s: StatsSnapshot): string {
  return `${s.device}: ${formatBytes(s.mappedBytes)} of data in ${formatBytes(s.poolUsedBytes)}, ratio ${s.ratio.combined.toFixed(2)}:1`;
}

export class ServiceRun {
  readonly log: Logger;
  private readonly sink: LogSink;
  private readonly stops: Array<() => void> = [];

  private constructor(log: Logger, sink: LogSink) {
    this.log = log;
    this.sink = sink;
    this.stops.push(installLogSignals(log, sink));
  }

  /** Opens the daemon's log (see log-destination.ts) and installs the signal handlers. */
  static open(logPath: string): ServiceRun {
    const { log, sink } = openServiceLogger(logPath);
    return new ServiceRun(log, sink);
  }

  /** The log file was renamed (ublkb-starting-PID.log -> ublkbN.log): SIGUSR2 reopens the new name. */
  logMoved(path: string): void {
    this.sink.retarget(path);
  }

  /** ADD_DEV done, the disk is about to appear. */
  added(devId: number): void {
    serviceDeviceAdded(devId, this.log);
  }

  /**
   * The block device is live. `status` (a packed device's ratio) is sent with
   * READY=1 and every 30 s after; `watchDir` is the pool's directory to watch.
   */
  live(devId: number, path: string, opts: { status?: () => string; watchDir?: string } = {}): void {
    const status = opts.status;
    serviceDeviceLive(devId, path, this.log, status?.());
    if (status) {
      const timer = setInterval(() => serviceStatus(status(), this.log), STATUS_INTERVAL_MS);
      timer.unref();
      this.stops.push(() => clearInterval(timer));
    }
    if (opts.watchDir !== undefined) this.stops.push(watchPoolFilesystem(opts.watchDir, this.log));
  }

  /** Shutdown begins (before the device is stopped). */
  stopping(devId: number, path: string): void {
    for (const stop of this.stops.splice(1)) stop(); // keep the signal handlers to the end
    serviceStopping(devId, path, this.log);
  }

  /** The daemon is done: handlers removed. */
  close(): void {
    for (const stop of this.stops.splice(0)) stop();
  }
}

