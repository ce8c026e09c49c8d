// `resize -n ID --size S`: grows a served device (packed or 1:1) while it is
// in use (mounted file systems then grow online with resize2fs). Needs a
// kernel whose ublk_drv offers UPDATE_SIZE (6.16+, see docs/kernels.md);
// elsewhere the daemon answers with the offline path (del, then add --size).

import { getNumber, getString, requireOption, type ParsedArgs } from '../args.js';
import { HELP_OPTION, type Command } from '../command.js';
import { recordGrownSize, sizeText } from '../config-size.js';
import { controlCall } from '../control-client.js';
import { DEFAULT_CONFIG_DIR } from '../device-config.js';
import { EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { validateDeviceSize } from '../../server/preflight.js';
import { readNameTag } from '../../server/stable-name.js';
import { UcError } from '../../util/errors.js';
import { formatBytes } from '../../util/units.js';

const TIMEOUT_MS = 60_000;

export const resizeCommand: Command = {
  name: 'resize',
  summary: 'grow a served device online (kernel 6.16+; else del + add --size)',
  usage: 'resize -n ID --size SIZE',
  description:
    'The pool (packed) or the backing file (1:1) grows first, durably: the new\n' +
    'size survives del + add. Then the kernel is told the new size. A device\n' +
    'never shrinks; a 1:1 device cannot grow past a block device it is on.\n' +
    'Afterwards grow the file system, e.g. resize2fs /dev/ublkbN while mounted.\n' +
    "A device started by 'up NAME' has its NAME.conf 'size' line raised to the\n" +
    "new size, so the next 'up' serves the grown device.",
  options: [
    HELP_OPTION,
    { name: 'id', short: 'n', kind: 'int', valueName: 'ID', min: 0, max: 0xfffffffe, help: 'device id (N of /dev/ublkbN)' },
    { name: 'size', short: 's', kind: 'size', valueName: 'SIZE', help: 'new device size, e.g. 2G (multiple of 4K)' },
    {
      name: 'config-dir', kind: 'string', valueName: 'DIR',
      help: `where NAME.conf of a device started by 'up' lives (default ${DEFAULT_CONFIG_DIR})`,
    },
  ],
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const devId = requireOption(getNumber(args, 'id'), 'id');
    const sizeBytes = requireOption(getNumber(args, 'size'), 'size');
    validateDeviceSize(sizeBytes);
    const reply = await controlCall(devId, { op: 'resize', sizeBytes }, { timeoutMs: TIMEOUT_MS });
    const r = reply.resize;
    if (!r) throw new UcError('UC_IO', `the daemon of /dev/ublkb${devId} sent no resize result`);
    io.out(
      r.fromBytes === r.toBytes
        ? `/dev/ublkb${devId} is already ${formatBytes(r.toBytes)}\n`
        : `grew /dev/ublkb${devId} from ${formatBytes(r.fromBytes)} to ${formatBytes(r.toBytes)}\n`,
    );
    if (r.toBytes > r.fromBytes) noteInConfig(devId, r.toBytes, getString(args, 'config-dir') ?? DEFAULT_CONFIG_DIR, io);
    return EXIT_OK;
  },
};

/** Raises NAME.conf's size for a device `up NAME` started; the grow itself has succeeded either way. */
function noteInConfig(devId: number, sizeBytes: number, dir: string, io: CliIo): void {
  const name = readNameTag(devId);
  if (name === undefined) return;
  try {
    const u = recordGrownSize(dir, name, sizeBytes);
    if (u.kind === 'updated') io.err(`ublk-compress: ${u.file}: size = ${u.value}\n`);
  } catch (err) {
    io.err(
      `ublk-compress: warning: ${(err as Error).message}; set 'size = ${sizeText(sizeBytes)}' there ` +
        `before the next 'up ${name}'\n`,
    );
  }
}
