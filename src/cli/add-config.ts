// `add` options, validated into one plain AddConfig (src/server/config.ts)
// that both the parent (which checks and spawns) and the daemon (which
// serves) use. Paths are made absolute here, in the user's working
// directory: the daemon runs in `/`.

import { resolve } from 'node:path';
import { getFlag, getNumber, getString, requireOption, type OptionSpec, type ParsedArgs } from './args.js';
import { HELP_OPTION } from './command.js';
import {
  DEFAULT_DEPTH,
  DEFAULT_QUEUES,
  LAYOUTS,
  ZERO_COPY_CHOICES,
  type AddConfig,
  type Layout,
  type ZeroCopyChoice,
} from '../server/config.js';
import { validateDeviceSize } from '../server/preflight.js';
import { UcError } from '../util/errors.js';
import { formatListenAddress, parseListenAddress, type ListenAddress } from '../server/metrics-http.js';
import { groupId } from '../server/group.js';

export const ADD_OPTIONS: readonly OptionSpec[] = [
  HELP_OPTION,
  { name: 'backing', short: 'b', kind: 'string', valueName: 'FILE', help: 'backing file or block device (created sparse if missing)' },
  { name: 'size', short: 's', kind: 'size', valueName: 'SIZE', help: 'device size, e.g. 512M, 100G (K/M/G/T; >= 1M, multiple of 4K)' },
  { name: 'layout', short: 'l', kind: 'string', valueName: 'LAYOUT', choices: LAYOUTS, help: 'direct (1:1, like loop) or packed (compressed + deduplicated; default)' },
  { name: 'queues', short: 'q', kind: 'int', valueName: 'N', min: 1, max: 64, help: `hardware queues (default ${DEFAULT_QUEUES})` },
  { name: 'depth', short: 'd', kind: 'int', valueName: 'N', min: 1, max: 4096, help: `queue depth (default ${DEFAULT_DEPTH})` },
  { name: 'id', short: 'n', kind: 'int', valueName: 'N', min: 0, max: 0xfffffffe, help: 'device id to use (default: the kernel picks one)' },
  { name: 'preallocate', kind: 'boolean', help: 'direct layout: write zeros over the backing file\'s holes first, so all of it maps to the disk' },
  {
    name: 'zero-copy',
    kind: 'string',
    valueName: 'MODE',
    choices: ZERO_COPY_CHOICES,
    help: 'direct layout: backing I/O on the request\'s own pages (Linux 6.16+): auto (default: for a file in memory), on (fail without it), off',
  },
  { name: 'foreground', short: 'f', kind: 'boolean', help: 'serve in this process instead of a background daemon' },
  { name: 'log', kind: 'string', valueName: 'FILE', help: 'log file (default /var/log/ublk-compress/ublkbN.log)' },
  { name: 'start-timeout', kind: 'int', valueName: 'SECONDS', min: 1, max: 3600, help: 'bound on device start-up (default 120)' },
  { name: 'metrics', kind: 'string', valueName: 'ADDR', help: 'serve Prometheus /metrics on [HOST:]PORT (host default 127.0.0.1)' },
  { name: 'stats-group', kind: 'string', valueName: 'GROUP', help: 'members of GROUP may run stats -n ID (a stats-only socket, mode 0660)' },
  // Daemon plumbing, set by the parent `add`: where to report readiness, and
  // that the log file has a provisional name to change once the id is known.
  { name: 'ready-fd', kind: 'int', min: 3, max: 1024, help: 'internal', hidden: true },
  { name: 'log-provisional', kind: 'boolean', help: 'internal', hidden: true },
];

/** `value` resolved against the working directory; an empty path is an error. */
export function absolutePath(value: string, option: string): string {
  if (value === '') throw new UcError('UC_INVALID_ARGUMENT', `option --${option}: the path is empty`);
  return resolve(value);
}

function optionalPath(value: string | undefined, option: string): string | undefined {
  return value === undefined ? undefined : absolutePath(value, option);
}

function metricsOf(value: string | undefined): ListenAddress | undefined {
  return value === undefined ? undefined : parseListenAddress(value);
}

function statsGidOf(value: string | undefined): number | undefined {
  return value === undefined ? undefined : groupId(value);
}

export function addConfigOf(args: ParsedArgs): AddConfig {
  const layout = (getString(args, 'layout') ?? 'packed') as Layout;
  const sizeBytes = getNumber(args, 'size');
  // A bad size is a command-line error: report it before looking at the system.
  if (sizeBytes !== undefined) validateDeviceSize(sizeBytes);
  return {
    backing: absolutePath(requireOption(getString(args, 'backing'), 'backing'), 'backing'),
    sizeBytes,
    layout,
    queues: getNumber(args, 'queues') ?? DEFAULT_QUEUES,
    depth: getNumber(args, 'depth') ?? DEFAULT_DEPTH,
    devId: getNumber(args, 'id'),
    foreground: getFlag(args, 'foreground'),
    preallocate: getFlag(args, 'preallocate'),
    zeroCopy: (getString(args, 'zero-copy') ?? 'auto') as ZeroCopyChoice,
    logPath: optionalPath(getString(args, 'log'), 'log'),
    startTimeoutMs: (getNumber(args, 'start-timeout') ?? 120) * 1000,
    metrics: metricsOf(getString(args, 'metrics')),
    statsGid: statsGidOf(getString(args, 'stats-group')),
    readyFd: getNumber(args, 'ready-fd'),
    logProvisional: getFlag(args, 'log-provisional'),
  };
}

/** Rebuilds the daemon's command line from the config (the parent's flags, explicit). */
export function daemonArgv(cfg: AddConfig, logPath: string, logProvisional: boolean): string[] {
  const argv = ['add', '--backing', cfg.backing, '--layout', cfg.layout];
  if (cfg.sizeBytes !== undefined) argv.push('--size', String(cfg.sizeBytes));
  argv.push('--queues', String(cfg.queues), '--depth', String(cfg.depth));
  if (cfg.devId !== undefined) argv.push('--id', String(cfg.devId));
  if (cfg.preallocate) argv.push('--preallocate');
  if (cfg.layout === 'direct') argv.push('--zero-copy', cfg.zeroCopy);
  argv.push('--start-timeout', String(cfg.startTimeoutMs / 1000));
  if (cfg.metrics) argv.push('--metrics', formatListenAddress(cfg.metrics));
  if (cfg.statsGid !== undefined) argv.push('--stats-group', String(cfg.statsGid));
  argv.push('--log', logPath, '--foreground', '--ready-fd', '3');
  if (logProvisional) argv.push('--log-provisional');
  return argv;
}
