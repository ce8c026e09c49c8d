// Where a serving process leaves things: run records and control sockets in
// the run directory, logs in the log directory. Both can be moved with
// environment variables (tests, systems without /run or /var/log write
// access); directories from the environment are made absolute (the daemon
// runs in `/`). The kernel's own paths are src/device's.

import { join, resolve } from 'node:path';

export function runDir(): string {
  return resolve(process.env.UBLK_COMPRESS_RUN_DIR || '/run/ublk-compress');
}

export function logDir(): string {
  return resolve(process.env.UBLK_COMPRESS_LOG_DIR || '/var/log/ublk-compress');
}

export function runFilePath(devId: number): string {
  return join(runDir(), `${devId}.json`);
}
