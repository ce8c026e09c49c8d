// The daemon's log files (issue 7 item 11): the $TMPDIR fallback directory is
// used only when it is a real directory owned by this uid and writable by
// nobody else (created 0700), and log files are opened O_NOFOLLOW, 0600.
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fallbackLogDir, openLogFd, openLogger, writableLogDir } from '../../../src/server/logger.js';
import { exitCodeOf } from '../../../src/cli/exit-codes.js';
import { refusal } from './support.js';

let dir: string;
const saved = { TMPDIR: process.env.TMPDIR, LOG: process.env.UBLK_COMPRESS_LOG_DIR };
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ublk-log-'));
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp, { mode: 0o1777 });
  chmodSync(tmp, 0o1777);
  process.env.TMPDIR = tmp;
  // The configured directory cannot be created (its parent is a file): fall back.
  writeFileSync(join(dir, 'file'), '');
  process.env.UBLK_COMPRESS_LOG_DIR = join(dir, 'file', 'logs');
});
afterEach(() => {
  for (const [k, v] of [['TMPDIR', saved.TMPDIR], ['UBLK_COMPRESS_LOG_DIR', saved.LOG]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(dir, { recursive: true, force: true });
});


describe('log fallback directory in $TMPDIR', () => {
  it('is created 0700 and used when the configured directory is unusable', () => {
    const got = writableLogDir();
    expect(got).toBe(fallbackLogDir());
    expect(got.startsWith(process.env.TMPDIR as string)).toBe(true);
    const st = lstatSync(got);
    expect(st.isDirectory()).toBe(true);
    expect(st.mode & 0o777).toBe(0o700);
  });

  it('refuses a planted symlink (to a directory the attacker reads)', () => {
    const target = join(dir, 'attacker');
    mkdirSync(target, { mode: 0o700 });
    symlinkSync(target, fallbackLogDir());
    const err = refusal(() => writableLogDir());
    expect(err.message).toMatch(/refusing log directory .*symbolic link/);
    expect(exitCodeOf(err)).toBe(1);
  });

  it('refuses a directory owned by another user, or writable by group or others', () => {
    mkdirSync(fallbackLogDir(), { mode: 0o700 });
    chownSync(fallbackLogDir(), 1234, 1234);
    expect(refusal(() => writableLogDir()).message).toMatch(/owned by uid 1234/);
    chownSync(fallbackLogDir(), 0, 0);
    chmodSync(fallbackLogDir(), 0o777);
    expect(refusal(() => writableLogDir()).message).toMatch(/writable by group or others \(mode 777\)/);
    chmodSync(fallbackLogDir(), 0o720);
    expect(refusal(() => writableLogDir()).message).toMatch(/writable by group or others/);
    chmodSync(fallbackLogDir(), 0o755); // readable is fine, writable is not
    expect(writableLogDir()).toBe(fallbackLogDir());
  });
});

describe('log files', () => {
  it('are created 0600 and appended to', () => {
    const path = join(dir, 'd.log');
    const log = openLogger(path);
    log.info('one');
    openLogger(path).info('two');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('never follow a symlink (a planted link to a file of the attacker\'s choosing)', () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'untouched');
    const path = join(dir, 'ublkb0.log');
    symlinkSync(victim, path);
    expect(refusal(() => openLogFd(path)).message).toMatch(/refusing log file .* symbolic link/);
    expect(() => openLogger(path)).toThrow(/symbolic link/);
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
  });
});
