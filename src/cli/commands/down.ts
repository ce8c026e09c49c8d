// `down NAME`: stop and delete the device NAME.conf declares (as `del` does:
// the daemon flushes, stops and deletes it) and remove its stable name. A
// device that is not up is not an error: the goal state already holds.

import { getNumber, getString, type ParsedArgs } from '../args.js';
import { HELP_OPTION, type Command } from '../command.js';
import { DEFAULT_CONFIG_DIR, loadDeviceConfig } from '../device-config.js';
import { deviceStatusOf } from '../device-lookup.js';
import { EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { blockDevicePath, openControl } from '../../device/control.js';
import { removeNameTag, unlinkStableName } from '../../server/stable-name.js';
import { deleteDevice } from './del.js';
import { CONFIG_DIR_OPTION, nameArgument } from './up.js';

export const downCommand: Command = {
  name: 'down',
  summary: 'stop and delete the device declared in /etc/ublk-compress/NAME.conf',
  usage: 'down [--config-dir DIR] [--timeout SECONDS] NAME',
  description:
    'Finds the device serving the backing file NAME.conf names, stops it as del\n' +
    'does, and removes /dev/ublk-compress/NAME. Unmount its filesystem first.\n' +
    'A device that is not up is reported and is not an error.',
  options: [
    HELP_OPTION,
    CONFIG_DIR_OPTION,
    { name: 'timeout', kind: 'int', valueName: 'SECONDS', min: 1, max: 3600, help: 'bound on each wait (default 30)' },
  ],
  maxPositionals: 1,
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const name = nameArgument(args);
    const config = loadDeviceConfig(getString(args, 'config-dir') ?? DEFAULT_CONFIG_DIR, name);
    const status = deviceStatusOf(config);
    if (status.kind === 'down') {
      io.err(`ublk-compress: '${name}' is not up\n`);
      return EXIT_OK;
    }
    const devId = status.record.devId;
    const control = openControl();
    try {
      const how = await deleteDevice(control, devId, { timeoutMs: (getNumber(args, 'timeout') ?? 30) * 1000 });
      io.err(`ublk-compress: '${name}' (${blockDevicePath(devId)}) ${how}\n`);
    } finally {
      control.close();
    }
    // The daemon removes both when it stops cleanly; not when it was dead.
    unlinkStableName(name, blockDevicePath(devId));
    removeNameTag(devId);
    return EXIT_OK;
  },
};
