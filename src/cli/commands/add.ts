// `add`: check everything a user can get wrong, then either spawn the
// serving daemon and print /dev/ublkbN once it is usable, or (--foreground)
// serve in this process.

import { getFlag, type ParsedArgs } from '../args.js';
import type { AddConfig } from '../../server/config.js';
import { ADD_OPTIONS, addConfigOf } from '../add-config.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { rejectBackingArgument } from '../../server/preflight.js';
import { PACKED_OPTIONS, packedConfigOf, packedDaemonArgv, rejectPackedOnlyOptions } from '../packed-options.js';
import { startLogPath } from '../../server/logger.js';
import { UcError } from '../../util/errors.js';
import type { ServeTarget } from '../../server/serve-target.js';

/** `--recover` (set by `recover` for a 1:1 device's new daemon): needs the device's --id. */
function directRecover(cfg: AddConfig, args: ParsedArgs): boolean {
  const recover = getFlag(args, 'recover');
  if (recover && cfg.devId === undefined) throw new UcError('UC_INVALID_ARGUMENT', '--recover needs --id');
  return recover;
}

export const addCommand: Command = {
  name: 'add',
  summary: 'create a device on a backing file and serve it (prints /dev/ublkbN)',
  usage: 'add --backing FILE [--size SIZE] [--layout direct|packed] [options]',
  description:
    'Returns once the device is usable, leaving a daemon serving it (its log:\n' +
    '--log, default /var/log/ublk-compress/ublkbN.log). With --layout direct, LBA n\n' +
    'is byte n*4096 of the backing file: a missing file is created sparse, a\n' +
    'smaller one is extended, none is ever truncated. --size may be left out when\n' +
    'the backing file exists (its size is used).\n\n' +
    'With --layout packed (the default) blocks are stored lz4-compressed and\n' +
    'deduplicated in a pool file: a missing pool is created sparse and formatted\n' +
    '(--size required); an existing one is re-opened with its data and metadata\n' +
    '(--meta, default FILE.meta); a larger --size grows it, a smaller one is an\n' +
    'error (a pool never shrinks). The device is added with USER_RECOVERY: after\n' +
    "the daemon dies, 'ublk-compress recover -n ID' re-attaches a new one to the\n" +
    "same /dev/ublkbN. 'stats -n ID' and 'compact -n ID' talk to the daemon.",
  options: [...ADD_OPTIONS, ...PACKED_OPTIONS],
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const cfg = addConfigOf(args);
    rejectBackingArgument(cfg.backing);
    const packed = cfg.layout === 'packed' ? packedConfigOf(cfg, args) : undefined;
    if (!packed) rejectPackedOnlyOptions(args);
    else if (cfg.preallocate) throw new UcError('UC_INVALID_ARGUMENT', 'option --preallocate applies to --layout direct only');
    else if (args.values.has('zero-copy')) throw new UcError('UC_INVALID_ARGUMENT', 'option --zero-copy applies to --layout direct only');
    // Serving modules load on demand: the parent `add` of a direct device never
    // needs the storage engine, and every module costs start-up time.
    const target: ServeTarget = packed
      ? (await import('../../server/targets/packed.js')).packedTarget(cfg, packed)
      : (await import('../../server/targets/direct.js')).directTarget(cfg, directRecover(cfg, args));
    target.preflight();
    if (cfg.foreground) return (await import('../serve-here.js')).serveHere(cfg, target, io);
    const { spawnDaemon } = await import('../spawn.js');
    const provisional = cfg.logPath === undefined && cfg.devId === undefined;
    const extraArgv = packed ? packedDaemonArgv(packed) : [];
    const outcome = await spawnDaemon(cfg, startLogPath(cfg), provisional, io, extraArgv);
    io.out(`${outcome.path}\n`);
    return EXIT_OK;
  },
};
