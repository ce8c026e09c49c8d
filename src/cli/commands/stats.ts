// `stats -n ID [--json] [--watch]`: the packed device's figures from its
// daemon (see packed-stats.ts for what each one means).

import { setTimeout as sleep } from 'node:timers/promises';
import { getFlag, getNumber, requireOption, type ParsedArgs } from '../args.js';
import { HELP_OPTION, type Command } from '../command.js';
import { controlCall } from '../control-client.js';
import { EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { renderDirectStats, type DirectServeStats } from '../direct-status.js';
import { renderStatsTable, type StatsSnapshot } from '../packed-stats.js';
import { UcError } from '../../util/errors.js';

const TIMEOUT_MS = 10_000;

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
  usage: 'stats -n ID [--json] [--watch [--interval SECONDS] [--count N]]',
  description:
    'Compression and combined ratios describe what the pool holds now; dedup and\n' +
    'same-fill ratios, bytes written and dedup hits are totals since the pool was\n' +
    'formatted (kept across del + add). IOPS and MB/s are averages since the\n' +
    'daemon started. On a 1:1 device: the request path serving it and per-path\n' +
    'request counts since its daemon started.',
  options: [
    HELP_OPTION,
    { name: 'id', short: 'n', kind: 'int', valueName: 'ID', min: 0, max: 0xfffffffe, help: 'device id (N of /dev/ublkbN)' },
    { name: 'json', kind: 'boolean', help: 'print JSON instead of a table' },
    { name: 'watch', short: 'w', kind: 'boolean', help: 'print again every --interval seconds until interrupted' },
    { name: 'interval', kind: 'int', valueName: 'SECONDS', min: 1, max: 3600, help: 'with --watch (default 2)' },
    { name: 'count', kind: 'int', valueName: 'N', min: 1, max: 1_000_000, help: 'with --watch: stop after N reports' },
  ],
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const devId = requireOption(getNumber(args, 'id'), 'id');
    const json = getFlag(args, 'json');
    const watch = getFlag(args, 'watch');
    if (!watch && (args.values.has('interval') || args.values.has('count'))) {
      throw new UcError('UC_INVALID_ARGUMENT', '--interval and --count need --watch');
    }
    const intervalMs = (getNumber(args, 'interval') ?? 2) * 1000;
    const count = watch ? (getNumber(args, 'count') ?? Number.MAX_SAFE_INTEGER) : 1;
    const clear = watch && !json && process.stdout.isTTY;
    for (let i = 0; i < count; i += 1) {
      if (i > 0) await sleep(intervalMs);
      const { packed, direct } = await fetchAny(devId);
      const s = packed ?? direct;
      const table = packed ? renderStatsTable(packed) : renderDirectStats(direct as DirectServeStats);
      if (json) io.out(`${JSON.stringify(s, null, watch ? undefined : 2)}\n`);
      else io.out(`${clear ? '\x1b[H\x1b[2J' : i > 0 ? '\n' : ''}${table}`);
    }
    return EXIT_OK;
  },
};
