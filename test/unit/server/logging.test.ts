// Daemon logging: the journal when JOURNAL_STREAM names stdout (priority
// prefixes), a reopenable file otherwise; SIGUSR2 reopens, SIGHUP is ignored
// (real signals, in a child process running the built modules).
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JournalSink, journalStreamIs, openServiceLogger, ReopenableFileSink, syslogPriority, writeLine } from '../../../src/server/log-destination.js';
import { ensureDistBuilt, REPO } from '../cli/support-dist.js';

const dir = mkdtempSync(join(tmpdir(), 'uc-logging-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('log destination', () => {
  it('recognises the journal stream by device and inode of the fd', () => {
    const fd = openSync(join(dir, 'stream'), 'w');
    try {
      const st = fstatSync(fd);
      expect(journalStreamIs(fd, { JOURNAL_STREAM: `${st.dev}:${st.ino}` })).toBe(true);
      expect(journalStreamIs(fd, { JOURNAL_STREAM: `${st.dev}:${st.ino + 1}` })).toBe(false);
      expect(journalStreamIs(fd, {})).toBe(false);
      expect(journalStreamIs(fd, { JOURNAL_STREAM: 'garbage' })).toBe(false);
    } finally {
      closeSync(fd);
    }
  });

  it('prefixes journal lines with the syslog priority of their level', () => {
    expect([10, 20, 30, 40, 50, 60].map(syslogPriority)).toEqual([7, 7, 6, 4, 3, 2]);
    const path = join(dir, 'journal');
    const fd = openSync(path, 'w');
    try {
      const sink = new JournalSink(fd);
      sink.write('{"level":50,"msg":"bad"}\n');
      sink.write('{"level":30,"msg":"fine"}\n');
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(path, 'utf8')).toBe('<3>{"level":50,"msg":"bad"}\n<6>{"level":30,"msg":"fine"}\n');
  });

  it('reopens the file at the same path after it was moved away', () => {
    const path = join(dir, 'ublkb1.log');
    const sink = new ReopenableFileSink(path);
    sink.write('one\n');
    renameSync(path, `${path}.1`);
    sink.write('two\n'); // still the moved file
    sink.reopen();
    sink.write('three\n');
    expect(readFileSync(`${path}.1`, 'utf8')).toBe('one\ntwo\n');
    expect(readFileSync(path, 'utf8')).toBe('three\n');
  });

  it('logs JSON lines to the file when JOURNAL_STREAM does not name stdout', () => {
    const path = join(dir, 'service.log');
    const { log, sink } = openServiceLogger(path, { devId: 3 }, { JOURNAL_STREAM: '1:1' });
    log.info({ x: 1 }, 'hello');
    expect(sink.target).toBe(path);
    const line = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, devId: 3, x: 1, msg: 'hello' });
  });
});

describe('daemon signals (child process)', () => {
  beforeAll(() => ensureDistBuilt(), 120_000);

  it('SIGHUP is logged and ignored, SIGUSR2 reopens the log, SIGTERM still ends it', async () => {
    const path = join(dir, 'child.log');
    const script = `
      const { openServiceLogger } = await import(${JSON.stringify(join(REPO, 'dist/src/server/log-destination.js'))});
      const { installLogSignals } = await import(${JSON.stringify(join(REPO, 'dist/src/server/log-signals.js'))});
      const { log, sink } = openServiceLogger(${JSON.stringify(path)});
      installLogSignals(log, sink);
      process.once('SIGTERM', () => { log.info('term'); process.exit(0); });
      setInterval(() => {}, 1000);
      log.info('up');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore', env: { ...process.env, JOURNAL_STREAM: '' } });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const waitFor = async (file: string, text: string): Promise<void> => {
      for (let i = 0; i < 200; i += 1) {
        try {
          if (readFileSync(file, 'utf8').includes(text)) return;
        } catch {
          // not there yet
        }
        await sleep(50);
      }
      throw new Error(`${file} never got '${text}'`);
    };
    await waitFor(path, '"msg":"up"');
    child.kill('SIGHUP');
    await waitFor(path, 'SIGHUP ignored');
    expect(child.exitCode).toBeNull();
    renameSync(path, `${path}.1`);
    child.kill('SIGUSR2');
    await waitFor(path, 'log reopened (SIGUSR2)');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(readFileSync(path, 'utf8')).toContain('"msg":"term"');
    expect(readFileSync(`${path}.1`, 'utf8')).toContain('SIGHUP ignored');
  }, 60_000);
});

describe('writeLine', () => {
  it('drops a line it cannot write instead of throwing', () => {
    const fd = openSync(join(dir, 'closed'), 'w');
    closeSync(fd);
    expect(writeLine(fd, 'lost\n')).toBe(false); // EBADF
    const ok = openSync(join(dir, 'open'), 'w');
    try {
      expect(writeLine(ok, 'kept\n')).toBe(true);
    } finally {
      closeSync(ok);
    }
    expect(readFileSync(join(dir, 'open'), 'utf8')).toBe('kept\n');
  });
});
