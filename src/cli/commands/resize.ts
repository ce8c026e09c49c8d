// `resize -n ID --size S`: grows a served device (packed or 1:1) while it is
// in use (mounted file systems then grow online with resize2fs). Needs a
// kernel whose ublk_drv offers UPDATE_SIZE (6.16+, see docs/kernels.md);
// elsewhere the daemon answers with the offline path (del, then add --size).

import { getNumber, requireOption, type ParsedArgs } from '../args.js';
import { HELP_OPTION, type Command } from '../command.js';
import { controlCall } from '../control-client.js';
import { EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { validateDeviceSize } from '../../server/preflight.js';
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
    'Afterwards grow the file system, e.g. resize2fs /dev/ublkbN while mounted.',
  options: [
    HELP_OPTION,
    { name: 'id', short: 'n', kind: 'int', valueName: 'ID', min: 0, max: 0xfffffffe, help: 'device id (N of /dev/ublkbN)' },
    { name: 'size', short: 's', kind: 'size', valueName: 'SIZE', help: 'new device size, e.g. 2G (multiple of 4K)' },
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
    return EXIT_OK;
  },
};
