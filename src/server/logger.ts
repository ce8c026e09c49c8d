// pino logging for the serving daemon. Log lines carry structured fields
// (devId, op, lba, blocks, errno, latencyMs) so a failing request can be
// traced. Writes are synchronous: the daemon logs rarely (start, stop,
// errors, slow requests) and a line must survive a crash right after it.
//
// The daemon runs as root: a log file is opened O_NOFOLLOW|O_APPEND mode
// 0600, and the fallback directory in $TMPDIR (a world-writable place) is
// used only when it is a real directory (lstat, no symlink) owned by this
// uid and writable by nobody else; it is created 0700.

import { accessSync, constants, lstatSync, mkdirSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino, type Logger } from 'pino';
import { ELOOP, EPERM } from '../util/errno.js';
import { UcError } from '../util/errors.js';
import { logDir } from './paths.js';

export type { Logger };

/** The fallback when the configured log directory is unusable. */
export function fallbackLogDir(): string {
  return join(tmpdir(), 'ublk-compress-log');
}

/** Refuses a directory another user could redirect or write into. */
export function requirePrivateDir(dir: string): void {
  const st = lstatSync(dir);
  const uid = process.getuid?.() ?? 0;
  let why: string | undefined;
  if (st.isSymbolicLink()) why = 'it is a symbolic link';
  else if (!st.isDirectory()) why = 'it is not a directory';
  else if (st.uid !== uid) why = `it is owned by uid ${st.uid}, not ${uid}`;
  else if ((st.mode & 0o022) !== 0) why = `it is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`;
  if (why) {
    throw new UcError('UC_IO', `refusing log directory ${dir}: ${why} (remove it, or give --log FILE)`, { errno: EPERM });
  }
}

/** The log directory: the configured one if writable, else a private temp fallback. */
export function writableLogDir(): string {
  const preferred = logDir();
  try {
    mkdirSync(preferred, { recursive: true, mode: 0o755 });
    accessSync(preferred, constants.W_OK);
    return preferred;
  } catch {
    const fallback = fallbackLogDir();
    try {
      mkdirSync(fallback, { mode: 0o700 }); // not recursive: $TMPDIR itself must exist
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    requirePrivateDir(fallback);
    return fallback;
  }
}

export function defaultLogPath(devId: number): string {
  return join(writableLogDir(), `ublkb${devId}.log`);
}

/**
 * The log a start writes to: --log, else ublkb<ID>.log, else (no id yet: the
 * kernel picks it) a provisional name, renamed once ADD_DEV names the device.
 */
export function startLogPath(opts: { readonly logPath: string | undefined; readonly devId: number | undefined }): string {
  if (opts.logPath !== undefined) return opts.logPath;
  if (opts.devId !== undefined) return defaultLogPath(opts.devId);
  return join(writableLogDir(), `ublkb-starting-${process.pid}.log`);
}

/** Opens a log file for appending: never through a symlink, created 0600. */
export function openLogFd(path: string): number {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW; // libuv adds O_CLOEXEC
  try {
    return openSync(path, flags, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new UcError('UC_IO', `refusing log file ${path}: it is a symbolic link`, { errno: ELOOP, cause: err });
    }
    throw err;
  }
}

/** A logger appending to `path`; `base` fields go on every line. */
export function openLogger(path: string, base: Record<string, unknown> = {}): Logger {
  const dest = pino.destination({ fd: openLogFd(path), sync: true });
  return pino({ base: { pid: process.pid, ...base }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}

/** A logger that drops everything (tests, and before the log file is known). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
