import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderTable } from '../../../src/cli/commands/list.js';
import type { DeviceView } from '../../../src/cli/devices.js';
import { spawn } from 'node:child_process';
import { isOurDaemon } from '../../../src/cli/devices.js';
import { daemonArgv } from '../../../src/cli/add-config.js';
import { directRecoveryConfigOf, recoveryConfigOf } from '../../../src/cli/commands/recover.js';
import {
  listRunRecords,
  processAlive,
  processStartTime,
  recordedDaemonAlive,
  readRunRecord,
  removeRunRecord,
  writeRunRecord,
  type RunRecord,
} from '../../../src/server/run-file.js';

const dir = mkdtempSync(join(tmpdir(), 'ublk-run-'));
const saved = process.env.UBLK_COMPRESS_RUN_DIR;
beforeAll(() => {
  process.env.UBLK_COMPRESS_RUN_DIR = join(dir, 'run');
});
afterAll(() => {
  if (saved === undefined) delete process.env.UBLK_COMPRESS_RUN_DIR;
  else process.env.UBLK_COMPRESS_RUN_DIR = saved;
  rmSync(dir, { recursive: true, force: true });
});

function record(devId: number, pid: number): RunRecord {
  return {
    devId,
    pid,
    backing: `/data/pool${devId}.img`,
    sizeBytes: 1 << 30,
    layout: 'direct',
    queues: 1,
    depth: 128,
    logPath: `/var/log/ublk-compress/ublkb${devId}.log`,
    startedAt: new Date(0).toISOString(),
    version: '0.1.0',
  };
}

describe('run records', () => {
  it('round-trips, lists in id order and ignores junk', () => {
    writeRunRecord(record(3, 100));
    writeRunRecord(record(1, 101));
    writeFileSync(join(dir, 'run', '7.json'), '{not json');
    writeFileSync(join(dir, 'run', 'notes.txt'), 'x');
    expect(readRunRecord(3)).toEqual(record(3, 100));
    expect(readRunRecord(7)).toBeUndefined();
    expect(listRunRecords().map((r) => r.devId)).toEqual([1, 3]);
  });

  it('removes only the record of the named process', () => {
    writeRunRecord(record(5, 200));
    expect(removeRunRecord(5, 999)).toBe(false);
    expect(readRunRecord(5)).toBeDefined();
    expect(removeRunRecord(5, 200)).toBe(true);
    expect(readRunRecord(5)).toBeUndefined();
  });

  it('processAlive tells live processes from dead ones', () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(0)).toBe(false);
    expect(processAlive(2 ** 22 + 12345)).toBe(false);
  });
});

describe('daemon identity: pid plus start time (del, list, recover)', () => {
  it('reads field 22 of /proc/PID/stat', () => {
    const self = processStartTime(process.pid);
    expect(Number.isSafeInteger(self)).toBe(true);
    expect(processStartTime(2 ** 22 + 12345)).toBeUndefined();
  });

  it('recognises the recorded process, never a reused pid, never by its command line', async () => {
    const child = spawn('sleep', ['30']);
    await new Promise((r) => child.once('spawn', r));
    const pid = child.pid as number;
    const rec = { ...record(9, pid), startTicks: processStartTime(pid) };
    expect(recordedDaemonAlive(rec)).toBe(true);
    expect(isOurDaemon(pid, rec)).toBe(true); // 'sleep' has no 'ublk-compress' in its command line
    // The same pid with another start time is another process (pid reuse).
    expect(recordedDaemonAlive({ ...rec, startTicks: (rec.startTicks as number) - 1 })).toBe(false);
    expect(isOurDaemon(pid, { ...rec, pid: pid + 1 })).toBe(false);
    expect(isOurDaemon(pid, undefined)).toBe(false);
    // A record without a start time (0.1.0): 'sleep' is not an ublk-compress process.
    const { startTicks: _omit, ...old } = rec;
    expect(recordedDaemonAlive(old)).toBe(false);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(recordedDaemonAlive(rec)).toBe(false);
  });

  it('a 0.1.0 record (no start time) names a live daemon by its command line, for del, list and recover', async () => {
    const daemon = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', '/usr/lib/ublk-compress/dist/cli/main.js']);
    await new Promise((r) => daemon.once('spawn', r));
    const pid = daemon.pid as number;
    const old = record(10, pid);
    expect(old.startTicks).toBeUndefined();
    expect(recordedDaemonAlive(old)).toBe(true);
    expect(isOurDaemon(pid, old)).toBe(true); // del signals it, list shows it alive
    daemon.kill('SIGKILL');
    await new Promise((r) => daemon.once('exit', r));
    expect(recordedDaemonAlive(old)).toBe(false);
    expect(isOurDaemon(pid, old)).toBe(false);
  });
});

describe('recover from a run record', () => {
  it('serves /metrics where the dead daemon did (none when its record has none)', () => {
    const packed = { ...record(4, 1), layout: 'packed' as const, metaDir: '/data/pool4.img.meta', dedup: 'verify', compression: 'lz4' };
    const opts = { foreground: false, startTimeoutMs: 120_000 };
    const { cfg } = recoveryConfigOf({ ...packed, metrics: '127.0.0.1:9104' }, opts);
    expect(cfg.metrics).toEqual({ host: '127.0.0.1', port: 9104 });
    const argv = daemonArgv(cfg, '/var/log/x.log', false);
    expect(argv.slice(argv.indexOf('--metrics'), argv.indexOf('--metrics') + 2)).toEqual(['--metrics', '127.0.0.1:9104']);
    expect(recoveryConfigOf(packed, opts).cfg.metrics).toBeUndefined();
  });

  it('a 1:1 device: its backing at the recorded size, the same id, flagged --recover for the daemon', () => {
    const direct = { ...record(6, 1), layout: 'direct' as const, backing: '/data/d.img', sizeBytes: 128 << 20 };
    const cfg = directRecoveryConfigOf(direct, { foreground: false, startTimeoutMs: 60_000 });
    expect(cfg).toMatchObject({ layout: 'direct', backing: '/data/d.img', sizeBytes: 128 << 20, devId: 6, startTimeoutMs: 60_000 });
    const argv = [...daemonArgv(cfg, '/var/log/d.log', false), '--recover'];
    expect(argv).toEqual(expect.arrayContaining(['--layout', 'direct', '--id', '6', '--size', String(128 << 20), '--recover']));
  });
});

describe('list table', () => {
  it('renders known and foreign devices', () => {
    const views: DeviceView[] = [
      { id: 0, device: '/dev/ublkb0', state: 'LIVE', sizeBytes: 1 << 30, layout: 'direct', backing: '/p.img', pid: 42, daemonAlive: true, queues: 1, depth: 128, flags: '0x5a', flagNames: [], logPath: null },
      { id: 3, device: '/dev/ublkb3', state: 'QUIESCED', sizeBytes: null, layout: null, backing: null, pid: 77, daemonAlive: false, queues: 1, depth: 64, flags: '0x5a', flagNames: [], logPath: null },
    ];
    expect(renderTable(views)).toBe(
      'ID  DEVICE       STATE     SIZE      LAYOUT  PID        BACKING\n' +
        '0   /dev/ublkb0  LIVE      1.00 GiB  direct  42         /p.img\n' +
        '3   /dev/ublkb3  QUIESCED  -         -       77 (gone)  -\n',
    );
  });
});
