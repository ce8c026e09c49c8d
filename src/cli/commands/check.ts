// `check`: offline audit of a packed pool and its metadata (src/engine/check.ts).
// fsck-like statuses (check-status.ts): 0 clean, 4 problems found, 8 not
// checked. The pool must not be in use (LevelDB locks its metadata).
// check writes nothing (it audits a private clone of the metadata); --repair only
// rewrites a damaged or stale superblock copy from the valid one, then audits.

import { resolve } from 'node:path';
import { getFlag, getString, requireOption, type ParsedArgs } from '../args.js';
import { withSharedLock } from '../../server/backing-lock.js';
import { HELP_OPTION, type Command } from '../command.js';
import { CHECK_CLEAN, CHECK_EXIT_TABLE, CHECK_PROBLEMS, checkExitOf } from '../check-status.js';
import { formatError } from '../format-error.js';
import { toUserError } from '../../server/user-error.js';
import type { CliIo } from '../io.js';
import { progressSink } from '../progress.js';
import { checkPool, defaultMetaDir, repairSuperblock } from '../../engine/index.js';
import { formatBytes } from '../../util/units.js';

export const checkCommand: Command = {
  name: 'check',
  summary: 'audit a pool offline: map, refcounts, fragments, fingerprints, segment counts',
  usage: 'check --backing FILE [--meta DIR] [--repair] [--json]',
  description:
    'Reads every map entry, extent and segment record of a stopped pool, decompresses every ' +
    'stored fragment and compares it with its fingerprint. Exits 0 only when nothing is wrong. ' +
    'Writes nothing, except that --repair rewrites a damaged or stale superblock copy from the valid one.\n' +
    'When stderr is not a terminal, a progress line is printed every 10 s.\n\n' +
    `Exit status:\n${CHECK_EXIT_TABLE.map(([code, meaning]) => `  ${String(code).padStart(2)}  ${meaning}`).join('\n')}`,
  options: [
    HELP_OPTION,
    { name: 'backing', short: 'b', kind: 'string', valueName: 'FILE', help: 'pool file or block device' },
    { name: 'meta', short: 'm', kind: 'string', valueName: 'DIR', help: 'metadata directory (default: BACKING.meta)' },
    { name: 'repair', kind: 'boolean', help: 'rewrite a damaged superblock copy from the valid one (nothing else)' },
    { name: 'json', kind: 'boolean', help: 'print the report as one JSON object' },
  ],
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const backingPath = requireOption(getString(args, 'backing'), 'backing');
    const metaDir = getString(args, 'meta') ?? defaultMetaDir(backingPath);
    const progress = progressSink(process.stderr, { label: 'check' });
    let audit: Awaited<ReturnType<typeof audited>>;
    try {
      audit = await audited(backingPath, metaDir, getFlag(args, 'repair'));
    } catch (err) {
      if (toUserError(err).code === 'UC_INVALID_ARGUMENT') throw err; // main(): exit 2
      io.err(formatError(toUserError(err)));
      return checkExitOf(err);
    } finally {
      progress.finish();
    }
    const { repaired, report } = audit;
    if (getFlag(args, 'json')) {
      io.out(`${JSON.stringify(repaired === undefined ? report : { ...report, repaired }, null, 2)}\n`);
    } else {
      if (repaired !== undefined) {
        for (const r of repaired) io.out(`repaired: ${r}\n`);
        if (repaired.length === 0) io.out('repair: both superblock copies are valid, nothing rewritten\n');
      }
      const c = report.counts;
      io.out(
        `${backingPath}: ${report.clean ? 'clean' : `${report.problemCount} problem(s)`}\n` +
          `  mapped blocks ${c.mappedBlocks} (fill ${c.fillBlocks}), extents ${c.extents} ` +
          `(shared ${c.sharedExtents}), dedup entries ${c.dedupEntries}\n` +
          `  segments in use ${c.usedSegments}, live ${formatBytes(c.liveBytes)}, ` +
          `payload ${formatBytes(c.storedPayloadBytes)}\n`,
      );
      const j = report.pendingJournal;
      if (j.records > 0) {
        io.out(`  write journal: ${j.records} completed write(s)/discard(s), ${j.blocks} blocks, replayed at the next add/recover\n`);
      }
      for (const p of report.problems) io.out(`  problem: ${p}\n`);
      if (report.problems.length < report.problemCount) {
        io.out(`  ... and ${report.problemCount - report.problems.length} more\n`);
      }
    }
    return report.clean ? CHECK_CLEAN : CHECK_PROBLEMS;
  },
};

/**
 * The audit under a shared lock: refused while a daemon serves the pool, and none
 * starts meanwhile. --repair writes: its lock is exclusive, so two never overlap.
 */
function audited(backingPath: string, metaDir: string, repair: boolean) {
  return withSharedLock(resolve(backingPath), async (lock) => ({
    repaired: repair ? await repairSuperblock({ backingPath, metaDir, lockedAs: lock }) : undefined,
    report: await checkPool({ backingPath, metaDir }),
  }), { exclusive: repair });
}
