// `compact -n ID`: run the packed device's compactor now (the daemon also runs
// it in the background), with a progress bar on a terminal.

import { getNumber, requireOption, getString, type ParsedArgs } from '../args.js';
import { HELP_OPTION, type Command } from '../command.js';
import { controlCall } from '../control-client.js';
import { EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { progressSink } from '../progress.js';
import { UcError } from '../../util/errors.js';
import { formatBytes } from '../../util/units.js';

/** Segments under this live fraction are cleaned by a hand-triggered run: more
 * than the background default (0.5), since the user asked for the space now. */
export const MANUAL_LIVE_FRACTION = 0.8;

export function parseThreshold(text: string | undefined): number {
  if (text === undefined) return MANUAL_LIVE_FRACTION;
  const v = Number(text);
  if (!/^\d*\.?\d+$/.test(text) || !(v > 0 && v <= 1)) {
    throw new UcError('UC_INVALID_ARGUMENT', `option --threshold: '${text}' is not a fraction in (0, 1]`);
  }
  return v;
}

export const compactCommand: Command = {
  name: 'compact',
  summary: 'reclaim pool space now: copy live data out of sparse segments, free them',
  usage: 'compact -n ID [--threshold FRACTION] [--timeout SECONDS]',
  options: [
    HELP_OPTION,
    { name: 'id', short: 'n', kind: 'int', valueName: 'ID', min: 0, max: 0xfffffffe, help: 'device id (N of /dev/ublkbN)' },
    { name: 'threshold', kind: 'string', valueName: 'FRACTION', help: `clean segments less live than this (default ${MANUAL_LIVE_FRACTION})` },
    { name: 'timeout', kind: 'int', valueName: 'SECONDS', min: 1, max: 86_400, help: 'bound on the wait between progress reports (default 600)' },
  ],
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const devId = requireOption(getNumber(args, 'id'), 'id');
    const liveFraction = parseThreshold(getString(args, 'threshold'));
    const bar = progressSink(process.stderr, { label: 'compact' });
    try {
      const reply = await controlCall(devId, { op: 'compact', liveFraction }, {
        timeoutMs: (getNumber(args, 'timeout') ?? 600) * 1000,
        onProgress: (p) => bar.update(p.done, p.total, `segments, ${formatBytes(p.reclaimedBytes)} reclaimed`),
      });
      bar.finish();
      const c = reply.compact;
      if (!c) throw new UcError('UC_IO', `the daemon of /dev/ublkb${devId} sent no compaction result`);
      io.out(
        `compacted /dev/ublkb${devId}: ${c.segmentsCleaned} segments cleaned, ${formatBytes(c.bytesMoved)} moved, ` +
          `${formatBytes(c.reclaimedBytes)} reclaimed in ${(c.durationMs / 1000).toFixed(1)} s\n`,
      );
    } finally {
      bar.finish();
    }
    return EXIT_OK;
  },
};
