// Persistent device configs (NAME.conf): what parses, every mistake with its
// file:line message and exit 2, and `up` / `down` through main().
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { addArgvOf, CONFIG_KEYS, loadDeviceConfig, parseDeviceConfig } from '../../../src/cli/device-config.js';
import { runMain } from './run-main.js';
import { writeRunRecord } from '../../../src/server/run-file.js';

const dir = mkdtempSync(join(tmpdir(), 'uc-devconf-'));
const confDir = join(dir, 'etc');
mkdirSync(confDir);
const savedRunDir = process.env.UBLK_COMPRESS_RUN_DIR;
process.env.UBLK_COMPRESS_RUN_DIR = join(dir, 'run');
afterAll(() => {
  if (savedRunDir === undefined) delete process.env.UBLK_COMPRESS_RUN_DIR;
  else process.env.UBLK_COMPRESS_RUN_DIR = savedRunDir;
  rmSync(dir, { recursive: true, force: true });
});

const run = runMain;

describe('parseDeviceConfig', () => {
  it('takes add options as keys, comments and blank lines, and keeps file order', () => {
    const c = parseDeviceConfig(
      'data',
      '# the data pool\n\nbacking = /srv/data.pool\n size=100G \nlayout = packed\nmeta = /srv/data.meta\ndedup = on\ncompress = lz4\ncache-mib = 32\nqueues = 2\ndepth = 64\nid = 7\nlog = /var/log/ublk-compress/data.log\nstart-timeout = 30\n',
      'data.conf',
    );
    expect(c.backing).toBe('/srv/data.pool');
    expect(addArgvOf(c)).toEqual([
      '--backing', '/srv/data.pool', '--size', '100G', '--layout', 'packed', '--meta', '/srv/data.meta', '--dedup', 'on',
      '--compress', 'lz4', '--cache-mib', '32', '--queues', '2', '--depth', '64', '--id', '7', '--log', '/var/log/ublk-compress/data.log',
      '--start-timeout', '30',
    ]);
  });

  it('offers no per-run switch or internal flag as a key', () => {
    const keys = CONFIG_KEYS.map((s) => s.name);
    for (const k of ['help', 'foreground', 'ready-fd', 'log-provisional', 'recover']) expect(keys).not.toContain(k);
  });

  const bad: Array<[string, RegExp]> = [
    ['size = 1G\n', /^f\.conf: missing required key 'backing'$/],
    ['backing = /a\nbacking = /b\n', /^f\.conf:2: 'backing' is set twice$/],
    ['backing = /a\nsize 1G\n', /^f\.conf:2: expected 'key = value', got 'size 1G'$/],
    ['backing = /a\ncolour = blue\n', /^f\.conf:2: unknown key 'colour' \(known: backing, size,/],
    ['backing = relative.pool\n', /^f\.conf:1: 'backing' must be an absolute path, not 'relative\.pool'$/],
    ['backing = /a\nsize = 12Q\n', /^f\.conf:2: 'size': /],
    ['backing = /a\nlayout = loop\n', /^f\.conf:2: 'layout': 'loop' is not one of direct, packed$/],
    ['backing = /a\nqueues = 0\n', /^f\.conf:2: 'queues': 0 is below the minimum 1$/],
    ['backing = /a\ndedup = maybe\n', /^f\.conf:2: 'dedup': 'maybe' is not one of off, on, verify$/],
    ['backing = /a\nbacking =\n', /^f\.conf:2: 'backing' is set twice$/],
    ['backing =\n', /^f\.conf:1: 'backing' needs a non-empty value$/],
    ['backing = /a\nforeground = 1\n', /^f\.conf:2: unknown key 'foreground'/],
    ['backing = /a\nsize = 1000\n', /^f\.conf: 'size' 1000 B is below the minimum of 1 MiB$/],
    ['backing = /a\nlayout = direct\ndedup = on\n', /^f\.conf: 'dedup' applies to layout = packed only$/],
    ['backing = /a\nlayout = direct\ncache-mib = 8\n', /^f\.conf: 'cache-mib' applies to layout = packed only$/],
    ['backing = /a\ncache-mib = 0\n', /^f\.conf:2: 'cache-mib': 0 is below the minimum 1$/],
  ];
  it.each(bad)('refuses %j', (text, message) => {
    expect(() => parseDeviceConfig('f', text, 'f.conf')).toThrow(expect.objectContaining({ code: 'UC_INVALID_ARGUMENT', message: expect.stringMatching(message) }));
  });

  it('refuses names that are not plain words', () => {
    for (const name of ['', '.hidden', '-x', 'a/b', '..', 'x'.repeat(65), 'sp ace']) {
      expect(() => loadDeviceConfig(confDir, name)).toThrow(expect.objectContaining({ code: 'UC_INVALID_ARGUMENT', message: expect.stringMatching(/^bad device name/) }));
    }
  });
});

describe('up and down through main()', () => {
  it('a missing config, a bad name or a bad config exits 2 with one line', async () => {
    writeFileSync(join(confDir, 'broken.conf'), 'backing = /srv/x.pool\nsize = lots\n');
    const cases: Array<[string[], RegExp]> = [
      [['up', '--config-dir', confDir, 'absent'], /no configuration for 'absent': .*absent\.conf does not exist/],
      [['down', '--config-dir', confDir, 'absent'], /no configuration for 'absent'/],
      [['up', '--config-dir', confDir, 'a/b'], /bad device name 'a\/b'/],
      [['up', '--config-dir', confDir], /missing device NAME/],
      [['up', '--config-dir', confDir, 'one', 'two'], /unexpected argument 'two'/],
      [['up', '--config-dir', confDir, 'broken'], /broken\.conf:2: 'size': /],
    ];
    for (const [argv, message] of cases) {
      const r = await run(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    }
  });

  it('down of a device that is not up (or whose record names a gone device) is a no-op', async () => {
    writeFileSync(join(confDir, 'idle.conf'), `backing = ${join(dir, 'idle.pool')}\nsize = 64M\n`);
    const down = await run('down', '--config-dir', confDir, 'idle');
    expect([down.code, down.err]).toEqual([0, "ublk-compress: 'idle' is not up\n"]);
    // A stale record for a device the kernel does not have does not count as up.
    writeRunRecord({
      devId: 4000, pid: 1, backing: join(dir, 'idle.pool'), sizeBytes: 1 << 26, layout: 'packed', queues: 1, depth: 128,
      logPath: join(dir, 'x.log'), startedAt: new Date().toISOString(), version: '0.1.0',
    });
    expect((await run('down', '--config-dir', confDir, 'idle')).code).toBe(0);
  });
});
