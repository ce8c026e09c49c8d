// Where the CLI looks for and leaves things. Run and log directories can be
// moved with environment variables (tests, systems without /run or /var/log
// write access); the kernel paths are fixed by the ublk driver. Directories
// from the environment are made absolute (the daemon runs in `/`).

import { join, resolve } from 'node:path';

export const UBLK_CONTROL_PATH = '/dev/ublk-control';
export const UBLK_CHAR_CLASS_DIR = '/sys/class/ublk-char';
export const UBLK_MODULE_DIR = '/sys/module/ublk_drv';

export function runDir(): string {
  return resolve(process.env.UBLK_COMPRESS_RUN_DIR || '/run/ublk-compress');
}

export function logDir(): string {
  return resolve(process.env.UBLK_COMPRESS_LOG_DIR || '/var/log/ublk-compress');
}

export function runFilePath(devId: number): string {
  return join(runDir(), `${devId}.json`);
}

export function blockDevicePath(devId: number): string {
  return `/dev/ublkb${devId}`;
}

export function charDevicePath(devId: number): string {
  return `/dev/ublkc${devId}`;
}
