// `add`: check everything a user can get wrong, then either spawn the
// serving daemon and print /dev/ublkbN once it is usable, or (--foreground)
// serve in this process.

import { join } from 'node:path';
import type { ParsedArgs } from '../args.js';
import { ADD_OPTIONS, addConfigOf } from '../add-config.js';
import type { Command } from '../command.js';
import { spawnDaemon } from '../daemon/spawn.js';
import { serveForeground } from '../daemon/serve.js';
import { EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { defaultLogPath, writableLogDir } from '../logger.js';
import { preflightAdd } from '../add-preflight.js';

export const addCommand: Command = {
  name: 'add',
  summary: 'create a device on a backing file and serve it (prints /dev/ublkbN)',
  usage: 'add --backing FILE [--size SIZE] [--layout direct|packed] [options]',
  description:
    'Returns once the device is usable, leaving a daemon serving it (its log:\n' +
    '--log, default /var/log/ublk-compress/ublkbN.log). With --layout direct, LBA n\n' +
    'is byte n*4096 of the backing file: a missing file is created sparse, a\n' +
    'smaller one is extended, none is ever truncated. --size may be left out when\n' +
    'the backing file exists (its size is used).',
  options: ADD_OPTIONS,
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const cfg = addConfigOf(args);
    preflightAdd(cfg);
    if (cfg.foreground) return serveForeground(cfg, io);
    const provisional = cfg.logPath === undefined && cfg.devId === undefined;
    const logPath =
      cfg.logPath ??
      (cfg.devId !== undefined
        ? defaultLogPath(cfg.devId)
        : join(writableLogDir(), `ublkb-starting-${process.pid}.log`));
    const outcome = await spawnDaemon(cfg, logPath, provisional, io);
    io.out(`${outcome.path}\n`);
    return EXIT_OK;
  },
};
