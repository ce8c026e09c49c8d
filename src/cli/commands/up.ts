// `up NAME`: start the device /etc/ublk-compress/NAME.conf declares, as `add`
// would with the same options, under its stable name /dev/ublk-compress/NAME.
// Idempotent: a device already served is left alone; one whose daemon died is
// re-attached (`recover`), so a systemd restart keeps a mounted filesystem.

import { getFlag, getString, parseArgs, type OptionSpec, type ParsedArgs } from '../args.js';
import { HELP_OPTION, type Command } from '../command.js';
import { DEFAULT_CONFIG_DIR, addArgvOf, loadDeviceConfig } from '../device-config.js';
import { deviceStatusOf } from '../device-lookup.js';
import { EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { blockDevicePath } from '../../device/control.js';
import { UcError } from '../../util/errors.js';
import { NAME_ENV } from '../../server/service-events.js';

export const CONFIG_DIR_OPTION: OptionSpec = {
  name: 'config-dir', kind: 'string', valueName: 'DIR', help: `where NAME.conf lives (default ${DEFAULT_CONFIG_DIR})`,
};

/** The NAME positional, required. */
export function nameArgument(args: ParsedArgs): string {
  const name = args.positionals[0];
  if (name === undefined) throw new UcError('UC_INVALID_ARGUMENT', 'missing device NAME (see --help)');
  return name;
}

async function runWith(cmd: Command, argv: string[], io: CliIo): Promise<number> {
  return cmd.run(parseArgs(argv, cmd.options), io);
}

export const upCommand: Command = {
  name: 'up',
  summary: 'start the device declared in /etc/ublk-compress/NAME.conf (stable name /dev/ublk-compress/NAME)',
  usage: 'up [--config-dir DIR] [--foreground] NAME',
  description:
    "NAME.conf holds 'key = value' lines whose keys are add's long options\n" +
    '(backing, size, layout, meta, dedup, compress, queues, depth, id, log,\n' +
    'start-timeout); see docs/operations.md. Prints /dev/ublkbN once the device\n' +
    'is usable; the daemon links /dev/ublk-compress/NAME to it. A device already\n' +
    'served is left as it is; one whose daemon died is re-attached (recover).\n' +
    'With --foreground (systemd: ublk-compress@NAME.service) this process serves\n' +
    'and sends READY=1 to $NOTIFY_SOCKET once the device is live.',
  options: [
    HELP_OPTION,
    CONFIG_DIR_OPTION,
    { name: 'foreground', short: 'f', kind: 'boolean', help: 'serve in this process instead of a background daemon' },
  ],
  maxPositionals: 1,
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const name = nameArgument(args);
    const config = loadDeviceConfig(getString(args, 'config-dir') ?? DEFAULT_CONFIG_DIR, name);
    const foreground = getFlag(args, 'foreground');
    const fg = foreground ? ['--foreground'] : [];
    const status = deviceStatusOf(config);
    if (status.kind === 'live') {
      const path = blockDevicePath(status.record.devId);
      if (foreground) {
        throw new UcError('UC_DEVICE_EXISTS', `'${name}' is already up as ${path} (daemon ${status.record.pid})`);
      }
      io.err(`ublk-compress: '${name}' is already up\n`);
      io.out(`${path}\n`);
      return EXIT_OK;
    }
    // The daemon (this process with --foreground) serves under this name.
    process.env[NAME_ENV] = name;
    if (status.kind === 'orphaned') {
      const { recoverCommand } = await import('./recover.js');
      io.err(`ublk-compress: '${name}' lost its daemon; re-attaching to ${blockDevicePath(status.record.devId)}\n`);
      return runWith(recoverCommand, ['--id', String(status.record.devId), ...fg], io);
    }
    const { addCommand } = await import('./add.js');
    return runWith(addCommand, [...addArgvOf(config), ...fg], io);
  },
};
