// `stats -n ID [--json] [--watch]`: the packed device's figures from its
// daemon (see packed-stats.ts for what each one means). Without -n: every
// device in one table (render/overview.ts); --format prometheus: the text
// exposition format for node_exporter's textfile collector.

import { setTimeout as sleep } from 'node:timers/promises';
import { getFlag, getNumber, getString, type ParsedArgs } from '../args.js';
import { HELP_OPTION, type Command } from '../command.js';
import { controlCall } from '../control-client.js';
import { EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { renderDirectStats, type DirectServeStats } from '../direct-status.js';
import type { StatsSnapshot } from '../../server/targets/packed-stats.js';
import { renderStatsTable } from '../render/packed-stats-table.js';
import { UcError } from '../../util/errors.js';
import { listDeviceIds, openControl } from '../../device/control.js';
import { reportDevice, type DeviceReport } from '../device-reports.js';
import { renderOverview } from '../render/overview.js';

const TIMEOUT_MS = 10_000;
const FORMATS = ['table', 'json', 'prometheus'];

export async function fetchStats(devId: number): Promise<StatsSnapshot> {
  const reply = await controlCall(devId, { op: 'stats' }, { timeoutMs: TIMEOUT_MS });
  if (!reply.stats) throw new UcError('UC_IO', `the daemon of /dev/ublkb${devId} sent no statistics`);
  return reply.stats;
}

/** The reply of a packed daemon (pool figures) or of a 1:1 one (request paths). */
async function fetchAny(devId: number): Promise<{ packed?: StatsSnapshot; direct?: DirectServeStats }> {
  const reply = await controlCall(devId, { op: 'stats' }, { timeoutMs: TIMEOUT_MS });
  if (reply.direct) return { direct: reply.direct };
  if (!reply.stats) throw new UcError('UC_IO', `the daemon of /dev/ublkb${devId} sent no statistics`);
  return { packed: reply.stats };
}

export const statsCommand: Command = {
  name: 'stats',
  summary: 'show a packed device\'s sizes, ratios, dedup hits, compactor and throughput',
  usage: 'stats [-n ID] [--json | --format FORMAT] [--watch [--interval SECONDS] [--count N]]',
  description:
    'Compression and combined ratios describe what the pool holds now; dedup and\n' +
    'same-fill ratios, bytes written and dedup hits are totals since the pool was\n' +
    'formatted (kept across del + add). IOPS and MB/s are averages since the\n' +
    'daemon started. On a 1:1 device: the request path serving it and per-path\n' +
    'request counts since its daemon started.\n\n' +
    'Without -n: every device in one table (size, pool bytes used, data mapped,\n' +
    'space saved, combined ratio, state). --format prometheus prints the\n' +
    'Prometheus text format (all devices, or -n ID) for node_exporter\'s textfile\n' +
    'collector; see docs/operations.md.',
  options: [
    HELP_OPTION,
    { name: 'id', short: 'n', kind: 'int', valueName: 'ID', min: 0, max: 0xfffffffe, help: 'device id (N of /dev/ublkbN)' },
    { name: 'json', kind: 'boolean', help: 'print JSON instead of a table (same as --format json)' },
    { name: 'format', kind: 'string', valueName: 'FORMAT', choices: FORMATS, help: 'table (default), json or prometheus' },
    { name: 'watch', short: 'w', kind: 'boolean', help: 'print again every --interval seconds until interrupted' },
    { name: 'interval', kind: 'int', valueName: 'SECONDS', min: 1, max: 3600, help: 'with --watch (default 2)' },
    { name: 'count', kind: 'int', valueName: 'N', min: 1, max: 1_000_000, help: 'with --watch: stop after N reports' },
  ],
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const devId = getNumber(args, 'id');
    const format = formatOf(args);
    const watch = getFlag(args, 'watch');
    if (!watch && (args.values.has('interval') || args.values.has('count'))) {
      throw new UcError('UC_INVALID_ARGUMENT', '--interval and --count need --watch');
    }
    const intervalMs = (getNumber(args, 'interval') ?? 2) * 1000;
    const count = watch ? (getNumber(args, 'count') ?? Number.MAX_SAFE_INTEGER) : 1;
    const clear = watch && format === 'table' && process.stdout.isTTY;
    for (let i = 0; i < count; i += 1) {
      if (i > 0) await sleep(intervalMs);
      const text = devId === undefined || format === 'prometheus' ? await reportText(devId, format, watch) : await deviceText(devId, format, watch);
      io.out(`${clear ? '\x1b[H\x1b[2J' : i > 0 && format === 'table' ? '\n' : ''}${text}`);
    }
    return EXIT_OK;
  },
};

type StatsFormat = 'table' | 'json' | 'prometheus';

function formatOf(args: ParsedArgs): StatsFormat {
  const format = getString(args, 'format') as StatsFormat | undefined;
  if (format !== undefined && getFlag(args, 'json')) throw new UcError('UC_INVALID_ARGUMENT', 'give --json or --format, not both');
  return format ?? (getFlag(args, 'json') ? 'json' : 'table');
}

/** One device's own table or JSON (its daemon's reply). */
async function deviceText(devId: number, format: StatsFormat, watch: boolean): Promise<string> {
  const { packed, direct } = await fetchAny(devId);
  if (format === 'json') return `${JSON.stringify(packed ?? direct, null, watch ? undefined : 2)}\n`;
  return packed ? renderStatsTable(packed) : renderDirectStats(direct as DirectServeStats);
}

/** Every device (or the one given) as the overview table, JSON rows or Prometheus text. */
async function reportText(devId: number | undefined, format: StatsFormat, watch: boolean): Promise<string> {
  const control = openControl();
  const reports: DeviceReport[] = [];
  try {
    for (const id of devId === undefined ? listDeviceIds() : [devId]) {
      const r = await reportDevice(control, id, TIMEOUT_MS);
      if (r) reports.push(r);
    }
  } finally {
    control.close();
  }
  if (devId !== undefined && reports.length === 0) {
    throw new UcError('UC_DEVICE_NOT_FOUND', `no ublk device with id ${devId} (see 'ublk-compress list')`);
  }
  // Loaded on demand: every CLI start would otherwise load prom-client.
  if (format === 'prometheus') return (await import('../../server/prometheus.js')).renderPrometheus(reports);
  if (format === 'json') return `${JSON.stringify(reports, null, watch ? undefined : 2)}\n`;
  return renderOverview(reports);
}
