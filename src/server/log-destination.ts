// Where a serving daemon's log lines go. Under systemd (JOURNAL_STREAM names
// our stdout) they are JSON lines on stdout, each with a `<N>` syslog priority
// prefix journald turns into the entry's priority. Otherwise they go to the
// log file, opened as openLogFd does (O_NOFOLLOW, 0600), and reopen() starts
// a new file at the same path after logrotate moved the old one (SIGUSR2).

import { closeSync, fstatSync, writeSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { openLogFd } from './logger.js';
import { EAGAIN, errnoOf } from '../util/errno.js';

const EAGAIN_RETRIES = 200;
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes the whole line. A log line must never take the daemon (and its
 * device) down: a full disk or a closed journal stream drops the line; a
 * stream Node made non-blocking (EAGAIN) is retried for up to ~200 ms.
 */
export function writeLine(fd: number, line: string): boolean {
  let buf = Buffer.from(line);
  for (let tries = 0; buf.length > 0; ) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (err) {
      if (errnoOf(err) !== EAGAIN || ++tries > EAGAIN_RETRIES) return false;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
  return true;
}

/** True when $JOURNAL_STREAM ("dev:ino") is the file `fd` is connected to. */
export function journalStreamIs(fd: number, env: NodeJS.ProcessEnv = process.env): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]) && st.ino === BigInt(m[2]);
  } catch {
    return false;
  }
}

/** pino level -> syslog priority (trace, debug: 7; info: 6; warn: 4; error: 3; fatal: 2). */
export function syslogPriority(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}

export interface LogSink {
  write(line: string): void;
  /** Starts writing to a fresh file at the same path (no-op for the journal). */
  reopen(): void;
  /** The file was renamed: later reopens use `path` (no-op for the journal). */
  retarget(path: string): void;
  readonly target: string;
}

/** Lines to the journal's stream on `fd`, priority-prefixed. */
export class JournalSink implements LogSink {
  readonly target = 'journal';
  constructor(private readonly fd = 1) {}

  write(line: string): void {
    const level = /"level":(\d+)/.exec(line);
    writeLine(this.fd, `<${syslogPriority(level ? Number(level[1]) : 30)}>${line}`);
  }

  reopen(): void {}

  retarget(): void {}
}

/** Lines appended synchronously to a file that can be reopened. */
export class ReopenableFileSink implements LogSink {
  private fd: number;

  constructor(public target: string) {
    this.fd = openLogFd(target);
  }

  retarget(path: string): void {
    this.target = path;
  }

  write(line: string): void {
    writeLine(this.fd, line);
  }

  reopen(): void {
    const next = openLogFd(this.target); // throws, keeping the old file, when it cannot
    const old = this.fd;
    this.fd = next;
    closeSync(old);
  }
}

/** The daemon's logger: the journal when it is our stdout, else the file at `path`. */
export function openServiceLogger(
  path: string,
  base: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = process.env,
): { log: Logger; sink: LogSink } {
  const sink: LogSink = journalStreamIs(1, env) ? new JournalSink(1) : new ReopenableFileSink(path);
  const log = pino({ base: { pid: process.pid, ...base }, timestamp: pino.stdTimeFunctions.isoTime }, sink);
  return { log, sink };
}
