// pino logging for the serving daemon. Log lines carry structured fields
// (devId, op, lba, blocks, errno, latencyMs) so a failing request can be
// traced. Writes are synchronous: the daemon logs rarely (start, stop,
// errors, slow requests) and a line must survive a crash right after it.

import { accessSync, constants, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { logDir } from './paths.js';

export type { Logger };

/** The log directory: the configured one if writable, else a temp fallback. */
export function writableLogDir(): string {
  const preferred = logDir();
  try {
    mkdirSync(preferred, { recursive: true, mode: 0o755 });
    accessSync(preferred, constants.W_OK);
    return preferred;
  } catch {
    const fallback = join(tmpdir(), 'ublk-compress-log');
    mkdirSync(fallback, { recursive: true, mode: 0o755 });
    return fallback;
  }
}

export function defaultLogPath(devId: number): string {
  return join(writableLogDir(), `ublkb${devId}.log`);
}

/** A logger appending to `path`; `base` fields go on every line. */
export function openLogger(path: string, base: Record<string, unknown> = {}): Logger {
  const dest = pino.destination({ dest: path, sync: true, append: true, mkdir: true });
  return pino({ base: { pid: process.pid, ...base }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}

/** A logger that drops everything (tests, and before the log file is known). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
