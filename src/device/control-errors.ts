// Turns errno failures of ublk control commands into the project's UcError
// codes with messages a user can act on. The only place that knows which
// errno means what for a control command (opening the control node:
// control.ts).

import { EACCES, EEXIST, ENODEV, ENOSPC, EPERM, errnoOf } from '../util/errno.js';
import { UcError } from '../util/errors.js';

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
