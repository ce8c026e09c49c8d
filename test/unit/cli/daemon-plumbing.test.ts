// The daemon's plumbing that runs without a device: the readiness pipe
// protocol and the request-logging target wrapper.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { daemonArgv, addConfigOf, ADD_OPTIONS } from '../../../src/cli/add-config.js';
import { parseArgs } from '../../../src/cli/args.js';
import { loggedTarget } from '../../../src/server/logged-target.js';
import { daemonNodeArgs, daemonNodeFlags, ONE_CPU_FLAGS } from '../../../src/cli/daemon-flags.js';
import { daemonEnv } from '../../../src/cli/spawn.js';
import { PACKED_OPTIONS, packedConfigOf, packedDaemonArgv } from '../../../src/cli/packed-options.js';
import { readMessages, type DaemonMessage } from '../../../src/server/ready-channel.js';
import { openLogger } from '../../../src/server/logger.js';
import type { BlockTarget } from '../../../src/device/target.js';
import { UcError } from '../../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'ublk-daemon-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ready channel', () => {
  it('yields one message per line across chunk boundaries and skips junk', async () => {
    const pipe = new PassThrough();
    const got: DaemonMessage[] = [];
    const done = (async () => {
      for await (const m of readMessages(pipe)) got.push(m);
    })();
    pipe.write('{"type":"added","devId":3,"logPath":"/l"}\n{"type":"re');
    pipe.write('ady","devId":3,"path":"/dev/ublkb3","logPath":"/l"}\nnot json\n\n');
    pipe.end();
    await done;
    expect(got).toEqual([
      { type: 'added', devId: 3, logPath: '/l' },
      { type: 'ready', devId: 3, path: '/dev/ublkb3', logPath: '/l' },
    ]);
  });

  it('the daemon command line round-trips through the parser', () => {
    const cfg = addConfigOf(parseArgs(['--backing', '/p.img', '--size', '64M', '--layout', 'direct', '--id', '4'], ADD_OPTIONS));
    const argv = daemonArgv(cfg, '/var/log/x.log', true);
    expect(argv[0]).toBe('add');
    const back = addConfigOf(parseArgs(argv.slice(1), ADD_OPTIONS));
    expect(back).toMatchObject({ backing: '/p.img', sizeBytes: 64 << 20, layout: 'direct', devId: 4, foreground: true, readyFd: 3, logPath: '/var/log/x.log', logProvisional: true });
    expect(back.zeroCopy).toBe('auto');
  });

  it('--zero-copy: auto by default, on/off kept for the daemon, anything else refused', () => {
    const direct = ['--backing', '/p.img', '--size', '64M', '--layout', 'direct'];
    for (const mode of ['on', 'off', 'auto'] as const) {
      const cfg = addConfigOf(parseArgs([...direct, '--zero-copy', mode], ADD_OPTIONS));
      expect(cfg.zeroCopy).toBe(mode);
      const argv = daemonArgv(cfg, '/l', false);
      expect(addConfigOf(parseArgs(argv.slice(1), ADD_OPTIONS)).zeroCopy).toBe(mode);
    }
    expect(() => addConfigOf(parseArgs([...direct, '--zero-copy', 'yes'], ADD_OPTIONS))).toThrow(/zero-copy/);
    // The packed daemon's command line never carries it.
    const packed = addConfigOf(parseArgs(['--backing', '/p.img', '--size', '64M'], ADD_OPTIONS));
    expect(daemonArgv(packed, '/l', false)).not.toContain('--zero-copy');
  });
});

describe('paths are absolute before the daemon (cwd /) starts', () => {
  it('--backing, --log, --meta and the directories from the environment', async () => {
    const cwd = process.cwd();
    const saved = { run: process.env.UBLK_COMPRESS_RUN_DIR, log: process.env.UBLK_COMPRESS_LOG_DIR, tmp: process.env.TMPDIR };
    try {
      process.chdir(dir);
      const args = parseArgs(['--backing', 'rel/pool.img', '--size', '64M', '--log', 'logs/d.log', '--meta', 'm', '--cache-mib', '32'], [...ADD_OPTIONS, ...PACKED_OPTIONS]);
      const cfg = addConfigOf(args);
      expect(cfg.backing).toBe(join(dir, 'rel/pool.img'));
      expect(cfg.logPath).toBe(join(dir, 'logs/d.log'));
      const packed = packedConfigOf(cfg, args);
      expect(packed.metaDir).toBe(join(dir, 'm'));
      const argv = [...daemonArgv(cfg, cfg.logPath as string, false), ...packedDaemonArgv(packed)];
      expect(argv[argv.indexOf('--backing') + 1]).toBe(join(dir, 'rel/pool.img'));
      expect(argv[argv.indexOf('--meta') + 1]).toBe(join(dir, 'm'));
      expect(argv[argv.indexOf('--cache-mib') + 1]).toBe('32');
      process.env.UBLK_COMPRESS_RUN_DIR = 'run';
      process.env.UBLK_COMPRESS_LOG_DIR = 'log';
      process.env.TMPDIR = 'tmp';
      const env = daemonEnv();
      expect([env.UBLK_COMPRESS_RUN_DIR, env.UBLK_COMPRESS_LOG_DIR, env.TMPDIR]).toEqual([join(dir, 'run'), join(dir, 'log'), join(dir, 'tmp')]);
      expect(() => addConfigOf(parseArgs(['--backing', ''], ADD_OPTIONS))).toThrow(/--backing needs a non-empty/);
    } finally {
      process.chdir(cwd);
      for (const [k, v] of [['UBLK_COMPRESS_RUN_DIR', saved.run], ['UBLK_COMPRESS_LOG_DIR', saved.log], ['TMPDIR', saved.tmp]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe('daemonNodeArgs', () => {
  it('splits UBLK_COMPRESS_DAEMON_NODE_ARGS on whitespace and is empty without it', () => {
    expect(daemonNodeArgs({})).toEqual([]);
    expect(daemonNodeArgs({ UBLK_COMPRESS_DAEMON_NODE_ARGS: '  ' })).toEqual([]);
    expect(daemonNodeArgs({ UBLK_COMPRESS_DAEMON_NODE_ARGS: ' --cpu-prof\t--cpu-prof-dir=/tmp/p  --trace-gc ' })).toEqual([
      '--cpu-prof', '--cpu-prof-dir=/tmp/p', '--trace-gc',
    ]);
  });
});

describe('daemonNodeFlags', () => {
  it('starts a daemon confined to one CPU with ONE_CPU_FLAGS, then the environment\'s flags (later ones win)', () => {
    const env = { UBLK_COMPRESS_DAEMON_NODE_ARGS: '--no-single-threaded-gc --cpu-prof' };
    expect(ONE_CPU_FLAGS.length).toBeGreaterThan(0);
    expect(daemonNodeFlags(env, 1)).toEqual([...ONE_CPU_FLAGS, '--no-single-threaded-gc', '--cpu-prof']);
    expect(daemonNodeFlags({}, 1)).toEqual([...ONE_CPU_FLAGS]);
    expect(daemonNodeFlags(env, 2)).toEqual(['--no-single-threaded-gc', '--cpu-prof']);
    expect(daemonNodeFlags({}, 8)).toEqual([]);
  });

  it('are flags this node accepts on its command line', () => {
    const r = spawnSync(process.execPath, [...ONE_CPU_FLAGS, '-e', 'process.exit(0)'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('loggedTarget', () => {
  it('logs a failed request with op, lba, blocks, errno, latencyMs and rethrows', async () => {
    const path = join(dir, 'log.jsonl');
    const inner: BlockTarget = {
      read: async () => {},
      write: async () => { throw new UcError('UC_NO_SPACE', 'full'); },
      flush: async () => {},
      discard: async () => {},
      writeZeroes: async () => {},
      close: async () => {},
    };
    const t = loggedTarget(inner, openLogger(path, { devId: 9 }));
    await t.read(1, 1, Buffer.alloc(4096));
    await expect(t.write(42, 8, Buffer.alloc(8 * 4096), true)).rejects.toThrow('full');
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ devId: 9, op: 'write-fua', lba: 42, blocks: 8, errno: 28, msg: 'request failed' });
    expect(typeof lines[0].latencyMs).toBe('number');
  });
});
