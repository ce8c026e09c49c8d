// Turns errno failures of the ublk control path into the project's UcError
// codes with messages a user can act on. The only place that knows which
// errno means what for a control command.

import { UcError } from '../util/errors.js';
import { UBLK_CONTROL_PATH, UblkControl } from '../native/index.js';

const ENOENT = 2;
const EPERM = 1;
const EACCES = 13;
const ENODEV = 19;
const EEXIST = 17;
const ENOSPC = 28;
const ENXIO = 6;

function errnoOf(err: unknown): number | undefined {
  const e = err as { errno?: unknown };
  return typeof e?.errno === 'number' ? e.errno : undefined;
}

/** Opens /dev/ublk-control, or throws UC_KERNEL_UNSUPPORTED / UC_NOT_ROOT. */
export function openControl(controlPath: string = UBLK_CONTROL_PATH): UblkControl {
  try {
    return UblkControl.open(controlPath);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === ENOENT || errno === ENODEV || errno === ENXIO) {
      throw new UcError(
        'UC_KERNEL_UNSUPPORTED',
        `${controlPath} does not exist: the kernel has no ublk driver loaded (run \`modprobe ublk_drv\` as root; ` +
          'it needs CONFIG_BLK_DEV_UBLK, Linux 6.0 or later)',
        { cause: err, errno },
      );
    }
    if (errno === EPERM || errno === EACCES) {
      throw new UcError('UC_NOT_ROOT', `cannot open ${controlPath}: ublk devices need root (CAP_SYS_ADMIN)`, {
        cause: err,
        errno,
      });
    }
    throw new UcError('UC_IO', `cannot open ${controlPath}: ${(err as Error).message}`, { cause: err, errno });
  }
}

/** Maps a failed control command on device `devId` to a UcError. */
export function controlError(err: unknown, command: string, devId: number | undefined): UcError {
  if (err instanceof UcError) return err;
  const errno = errnoOf(err);
  const dev = devId === undefined || devId < 0 ? 'a new device' : `device ${devId}`;
  if (command === 'ADD_DEV' && (errno === EEXIST || errno === ENOSPC) && devId !== undefined && devId >= 0) {
    return new UcError('UC_DEVICE_EXISTS', `ublk device id ${devId} is already in use`, { cause: err, errno });
  }
  if (command === 'ADD_DEV' && errno === EACCES) {
    return new UcError('UC_IO', 'the kernel refused a new ublk device (module parameter ublks_max reached?)', {
      cause: err,
      errno,
    });
  }
  if (errno === ENODEV && command !== 'ADD_DEV') {
    return new UcError('UC_DEVICE_NOT_FOUND', `no ublk device with id ${devId}`, { cause: err, errno });
  }
  if (errno === EPERM || errno === EACCES) {
    return new UcError('UC_NOT_ROOT', `ublk ${command} on ${dev} was refused: it needs root (CAP_SYS_ADMIN)`, {
      cause: err,
      errno,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new UcError('UC_IO', `ublk ${command} on ${dev} failed: ${message}`, { cause: err, errno });
}
