// One serving daemon's service duties, in one object the serve loop drives:
// logging (journal or a reopenable file, SIGUSR2, SIGHUP ignored), the stable
// name and udev tag, READY=1 / STATUS= / STOPPING=1 to systemd, and the
// fullness watch of the pool's filesystem. Each call is one line in the loop.

import type { Logger } from 'pino';
import { formatBytes } from '../util/units.js';
import type { StatsSnapshot } from './targets/packed-stats.js';
import { hostFsOf, type DeviceReport } from './device-report.js';
import { watchPoolFilesystem } from './fs-watch.js';
import { startMetricsServer, type ListenAddress } from './metrics-http.js';
import { openServiceLogger, type LogSink } from './log-destination.js';
import { installLogSignals } from './log-signals.js';
import { serviceDeviceAdded, serviceDeviceLive, serviceName, serviceStatus, serviceStopping } from './service-events.js';

const STATUS_INTERVAL_MS = 30_000;

/** The STATUS= line of a packed device: what it holds and its ratio. */
export function packedStatusLine(s: StatsSnapshot): string {
  return `${s.device}: ${formatBytes(s.mappedBytes)} of data in ${formatBytes(s.poolUsedBytes)}, ratio ${s.ratio.combined.toFixed(2)}:1`;
}

export interface ServedFigures {
  readonly devId: number;
  readonly backing: string;
  readonly layout: 'direct' | 'packed';
  /** The device's size now: an online grow (`resize`) changes it. */
  readonly sizeBytes: () => number;
  /** The packed daemon's snapshot (undefined for a 1:1 device). */
  readonly snapshot?: () => StatsSnapshot;
}

/** The daemon's own device as `stats` would report it (it is live: it is serving). */
export function ownReport(f: ServedFigures): DeviceReport {
  return {
    view: {
      id: f.devId, device: `/dev/ublkb${f.devId}`, state: 'LIVE', sizeBytes: f.sizeBytes(), layout: f.layout, backing: f.backing,
      pid: process.pid, daemonAlive: true, queues: null, depth: null, flags: null, flagNames: [], logPath: null,
    },
    name: serviceName(),
    packed: f.snapshot?.(),
    direct: undefined,
    hostFs: f.backing.startsWith('/dev/') ? undefined : hostFsOf(f.backing),
  };
}

export interface LiveOptions {
  /** STATUS= line, sent with READY=1 and every 30 s after. */
  readonly status?: () => string;
  /** The directory whose filesystem the pool grows into (fullness warnings). */
  readonly watchDir?: string;
  /** `--metrics ADDR`: serve /metrics with these figures. */
  readonly metrics?: { readonly address: ListenAddress; readonly figures: ServedFigures };
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

  /** The block device is live: name, READY=1, status updates, fullness watch, /metrics. */
  live(devId: number, path: string, opts: LiveOptions = {}): void {
    const status = opts.status;
    serviceDeviceLive(devId, path, this.log, status?.());
    if (status) {
      const timer = setInterval(() => serviceStatus(status(), this.log), STATUS_INTERVAL_MS);
      timer.unref();
      this.stops.push(() => clearInterval(timer));
    }
    if (opts.watchDir !== undefined) this.stops.push(watchPoolFilesystem(opts.watchDir, this.log));
    if (opts.metrics) this.serveMetrics(opts.metrics.address, opts.metrics.figures);
  }

  /** A port in use is logged: the device serves on without its endpoint. */
  private serveMetrics(address: ListenAddress, figures: ServedFigures): void {
    let closed = false;
    let close: (() => Promise<void>) | undefined;
    this.stops.push(() => {
      closed = true;
      void close?.();
    });
    // prom-client is loaded only here: a device without --metrics starts without it
    // (about 100 modules, seconds of start-up in an emulated guest).
    const render = async (): Promise<string> => (await import('./prometheus.js')).renderPrometheus([ownReport(figures)]);
    startMetricsServer(address, render).then(
      (server) => {
        close = server.close;
        if (closed) void close();
        else this.log.info({ metrics: server.address }, 'serving /metrics');
      },
      (err: unknown) => this.log.error({ err, metrics: address }, 'cannot serve /metrics'),
    );
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

