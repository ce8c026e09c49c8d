// A daemon's service duties end to end on the host (no ublk needed): the name
// tag at ADD_DEV, the stable link and READY=1 with the status once live,
// STOPPING=1 and the link gone at shutdown; a plain `add` (no name) only
// notifies. The notification socket is a real datagram receiver.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { NAME_ENV } from '../../src/server/service-events.js';
import { ServiceRun } from '../../src/server/service-run.js';
import { readStableName } from '../../src/server/stable-name.js';
import { notifyReceiver } from './notify-receiver.js';

const dir = mkdtempSync(join(tmpdir(), 'uc-service-'));
const KEYS = ['UBLK_COMPRESS_NAME_DIR', 'UBLK_COMPRESS_RUN_DIR', 'NOTIFY_SOCKET', NAME_ENV, 'JOURNAL_STREAM'] as const;
const saved = Object.fromEntries(KEYS.map((k) => [k, process.env[k]]));
process.env.UBLK_COMPRESS_NAME_DIR = join(dir, 'names');
process.env.UBLK_COMPRESS_RUN_DIR = join(dir, 'run');
delete process.env.JOURNAL_STREAM;
let run: ServiceRun | undefined;
afterEach(() => {
  run?.close();
  run = undefined;
});
afterAll(() => {
  for (const k of KEYS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('ServiceRun', () => {
  it('tags, links and notifies a named device through its life', async () => {
    const sock = join(dir, 'notify.sock');
    const { messages } = await notifyReceiver(sock, 2);
    process.env.NOTIFY_SOCKET = sock;
    process.env[NAME_ENV] = 'data';
    run = ServiceRun.open(join(dir, 'log', 'starting.log'));
    run.added(3);
    expect(readFileSync(join(dir, 'run', 'names', 'ublkb3'), 'utf8')).toBe('data\n');
    expect(readStableName('data')).toBeUndefined(); // not before the device is live
    run.live(3, '/dev/ublkb3', { status: () => 'ratio 2.00:1', watchDir: dir });
    expect(readStableName('data')).toBe('/dev/ublkb3');
    run.stopping(3, '/dev/ublkb3');
    expect(readStableName('data')).toBeUndefined();
    expect(existsSync(join(dir, 'run', 'names', 'ublkb3'))).toBe(false);
    expect(await messages).toEqual(['READY=1\nSTATUS=ratio 2.00:1', 'STOPPING=1\nSTATUS=stopping /dev/ublkb3']);
    const log = readFileSync(join(dir, 'log', 'starting.log'), 'utf8');
    expect(log).toContain('stable name linked');
    expect(log).toContain('told systemd READY=1');
  });

  it('serves its own device on /metrics while live', async () => {
    delete process.env.NOTIFY_SOCKET;
    process.env[NAME_ENV] = 'web';
    run = ServiceRun.open(join(dir, 'log', 'metrics.log'));
    let sizeBytes = 1 << 30;
    const figures = { devId: 6, backing: join(dir, 'pool.img'), layout: 'packed' as const, sizeBytes: () => sizeBytes };
    run.live(6, '/dev/ublkb6', { metrics: { address: { host: '127.0.0.1', port: 0 }, figures } });
    let port: number | undefined;
    for (let i = 0; i < 100 && port === undefined; i += 1) {
      await new Promise((r) => setTimeout(r, 50));
      const m = /"metrics":\{"host":"127\.0\.0\.1","port":(\d+)\}/.exec(readFileSync(join(dir, 'log', 'metrics.log'), 'utf8'));
      if (m) port = Number(m[1]);
    }
    expect(port).toBeDefined();
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toContain('ublk_compress_device_info{device="/dev/ublkb6",name="web",layout="packed",state="LIVE"');
    expect(text).toMatch(/^ublk_compress_daemon_up\{device="\/dev\/ublkb6"\} 1$/m);
    expect(text).toMatch(/^ublk_compress_host_fs_avail_bytes\{device="\/dev\/ublkb6",path="[^"]+"\} \d+$/m);
    expect(text).toMatch(/^ublk_compress_size_bytes\{device="\/dev\/ublkb6"\} 1073741824$/m);
    sizeBytes = 2 * 2 ** 30; // an online grow: the next render shows it
    const grown = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(grown).toMatch(/^ublk_compress_size_bytes\{device="\/dev\/ublkb6"\} 2147483648$/m);
    run.stopping(6, '/dev/ublkb6');
    await new Promise((r) => setTimeout(r, 100));
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });

  it('without a name only notifies; a dead socket is logged, not thrown', () => {
    delete process.env[NAME_ENV];
    process.env.NOTIFY_SOCKET = join(dir, 'nobody.sock');
    run = ServiceRun.open(join(dir, 'log', 'plain.log'));
    run.added(4);
    run.live(4, '/dev/ublkb4');
    run.stopping(4, '/dev/ublkb4');
    expect(existsSync(join(dir, 'run', 'names', 'ublkb4'))).toBe(false);
    const log = readFileSync(join(dir, 'log', 'plain.log'), 'utf8');
    expect(log).toContain('sd_notify READY failed');
    expect(log).toContain('"code":"ENOENT"');
  });
});
