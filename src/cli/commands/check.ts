// `check`: offline audit of a packed pool and its metadata (src/engine/check.ts).
// Exit 0 only when the pool is clean; problems found exit with the status for an
// unusable backing store. The pool must not be in use (LevelDB locks its metadata).

import { resolve } from 'node:path';
import { getFlag, getString, requireOption, type ParsedArgs } from '../args.js';
import { withSharedLock } from '../backing-lock.js';
import { HELP_OPTION, type Command } from '../command.js';
import { EXIT_BACKING_UNUSABLE, EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { checkPool, defaultMetaDir } from '../../engine/index.js';
import { formatBytes } from '../../util/units.js';

export const checkCommand: Command = {
  name: 'check',
  summary: 'audit a pool offline: map, refcounts, fragments, fingerprints, segment counts',
  usage: 'check --backing FILE [--meta DIR] [--json]',
  description:
    'Reads every map entry, extent and segment record of a stopped pool, decompresses every ' +
    'stored fragment and compares it with its fingerprint. Exits 0 only when nothing is wrong.',
  options: [
    HELP_OPTION,
    { name: 'backing', kind: 'string', help: 'pool file or block device' },
    { name: 'meta', kind: 'string', help: 'metadata directory (default: BACKING.meta)' },
    { name: 'json', kind: 'boolean', help: 'print the report as one JSON object' },
  ],
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const backingPath = requireOption(getString(args, 'backing'), 'backing');
    const metaDir = getString(args, 'meta') ?? defaultMetaDir(backingPath);
    // A shared lock: refused while a daemon serves the pool, and none starts meanwhile.
    const report = await withSharedLock(resolve(backingPath), () => checkPool({ backingPath, metaDir }));
    if (getFlag(args, 'json')) {
      io.out(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      const c = report.counts;
      io.out(
        `${backingPath}: ${report.clean ? 'clean' : `${report.problemCount} problem(s)`}\n` +
          `  mapped blocks ${c.mappedBlocks} (fill ${c.fillBlocks}), extents ${c.extents} ` +
          `(shared ${c.sharedExtents}), dedup entries ${c.dedupEntries}\n` +
          `  segments in use ${c.usedSegments}, live ${formatBytes(c.liveBytes)}, ` +
          `payload ${formatBytes(c.storedPayloadBytes)}\n`,
      );
      for (const p of report.problems) io.out(`  problem: ${p}\n`);
      if (report.problems.length < report.problemCount) {
        io.out(`  ... and ${report.problemCount - report.problems.length} more\n`);
      }
    }
    return report.clean ? EXIT_OK : EXIT_BACKING_UNUSABLE;
  },
};
