// `del -n ID | --all`: stop the daemon (SIGTERM: it flushes, stops and
// deletes the device itself), wait for it with a bound, and finish the job
// from here when the daemon is gone or stuck (kill -9'ed daemons included):
// STOP_DEV then DEL_DEV, each with a timeout, so `del` never hangs.

import { setTimeout as sleep } from 'node:timers/promises';
import { deviceIdInUse, deviceInfo, listDeviceIds, openControl, stopAndDelete } from '../../device/control.js';
import type { UblkControl } from '../../native/index.js';
import { readRunRecord, removeRunRecord } from '../../server/run-file.js';
import { toUserError } from '../../server/user-error.js';
import { UcError } from '../../util/errors.js';
import { getFlag, getNumber, type ParsedArgs } from '../args.js';
import { HELP_OPTION, type Command } from '../command.js';
import { isOurDaemon } from '../devices.js';
import { EXIT_OK, exitCodeOf } from '../exit-codes.js';
import { formatError } from '../format-error.js';
import type { CliIo } from '../io.js';

const POLL_MS = 50;

async function waitUntil(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (predicate()) return true;
    await sleep(POLL_MS);
  }
  return predicate();
}

export interface DeleteOptions {
  readonly timeoutMs: number;
}

/** Deletes one device; resolves with a note about how, throws a UcError on failure. */
export async function deleteDevice(control: UblkControl, id: number, opts: DeleteOptions): Promise<string> {
  const record = readRunRecord(id);
  if (!deviceIdInUse(id)) {
    if (record) removeRunRecord(id, record.pid);
    throw new UcError('UC_DEVICE_NOT_FOUND', `no ublk device with id ${id} (see 'ublk-compress list')`);
  }
  let how = 'deleted';
  const info = await deviceInfo(control, id, opts.timeoutMs);
  const pid = info.ublksrvPid > 0 ? info.ublksrvPid : record?.pid;
  // Signal only the process the run record names (pid plus start time):
  // never whatever process has since been given the same pid.
  if (pid !== undefined && isOurDaemon(pid, record)) {
    process.kill(pid, 'SIGTERM');
    const exited = await waitUntil(() => !isOurDaemon(pid, record), opts.timeoutMs);
    if (!exited) {
      process.kill(pid, 'SIGKILL');
      await waitUntil(() => !isOurDaemon(pid, record), 5000);
      how = `deleted (daemon ${pid} did not stop within ${opts.timeoutMs} ms and was killed)`;
    }
  } else if (pid !== undefined && pid > 0) {
    how = `deleted (its daemon ${pid} was already gone)`;
  }
  if (deviceIdInUse(id)) {
    // The daemon is gone (or never cleaned up): stop and delete from here.
    await stopAndDelete(control, id, opts.timeoutMs);
  }
  if (!(await waitUntil(() => !deviceIdInUse(id), opts.timeoutMs))) {
    throw new UcError('UC_TIMEOUT', `ublk device ${id} still exists after ${opts.timeoutMs} ms`);
  }
  if (record) removeRunRecord(id, record.pid);
  return how;
}

export const delCommand: Command = {
  name: 'del',
  summary: 'stop and delete a device (or all of them); its daemon exits',
  usage: 'del -n ID | --all [--timeout SECONDS]',
  description:
    'The daemon is asked to stop (SIGTERM): it flushes the backing file, stops and\n' +
    'deletes the device. If it is gone (for example killed) or does not stop in\n' +
    'time, del stops and deletes the device itself. A mounted filesystem on the\n' +
    'device gets I/O errors: unmount it first.',
  options: [
    HELP_OPTION,
    { name: 'id', short: 'n', kind: 'int', valueName: 'ID', min: 0, max: 0xfffffffe, help: 'device id (N of /dev/ublkbN)' },
    { name: 'all', short: 'a', kind: 'boolean', help: 'delete every ublk device' },
    { name: 'timeout', kind: 'int', valueName: 'SECONDS', min: 1, max: 3600, help: 'bound on each wait (default 30)' },
  ],
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const id = getNumber(args, 'id');
    const all = getFlag(args, 'all');
    if ((id === undefined) === !all) {
      throw new UcError('UC_INVALID_ARGUMENT', 'give exactly one of -n ID or --all');
    }
    const timeoutMs = (getNumber(args, 'timeout') ?? 30) * 1000;
    const control = openControl();
    let status = EXIT_OK;
    try {
      const ids = all ? listDeviceIds() : [id as number];
      for (const devId of ids) {
        try {
          const how = await deleteDevice(control, devId, { timeoutMs });
          io.err(`ublk-compress: /dev/ublkb${devId} ${how}\n`);
        } catch (err) {
          io.err(formatError(toUserError(err)));
          if (status === EXIT_OK) status = exitCodeOf(err);
        }
      }
    } finally {
      control.close();
    }
    return status;
  },
};
