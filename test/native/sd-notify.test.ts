// sd_notify through the addon, received by a real unix datagram socket (a
// python3 receiver: Node cannot bind one), on a path and on an abstract name.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatNotify, sdNotify } from '../../src/server/sd-notify.js';
import { notifyReceiver as receiver } from './notify-receiver.js';

const dir = mkdtempSync(join(tmpdir(), 'uc-notify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sdNotify', () => {
  it('formats READY, STOPPING and a one-line STATUS', () => {
    expect(formatNotify({ ready: true, status: 'ratio 2.0\nsecond line' })).toBe('READY=1\nSTATUS=ratio 2.0 second line');
    expect(formatNotify({ stopping: true })).toBe('STOPPING=1');
    expect(formatNotify({})).toBe('');
  });

  it('does nothing without NOTIFY_SOCKET', () => {
    expect(sdNotify({ ready: true }, {})).toBe(false);
  });

  it('delivers datagrams to a path socket', async () => {
    const path = join(dir, 'notify.sock');
    const { messages } = await receiver(path, 2);
    expect(sdNotify({ ready: true, status: 'serving /dev/ublkb3' }, { NOTIFY_SOCKET: path })).toBe(true);
    expect(sdNotify({ stopping: true }, { NOTIFY_SOCKET: path })).toBe(true);
    expect(await messages).toEqual(['READY=1\nSTATUS=serving /dev/ublkb3', 'STOPPING=1']);
  });

  it('delivers to an abstract socket named with @', async () => {
    const name = `@uc-notify-test-${process.pid}`;
    const { messages } = await receiver(name, 1);
    sdNotify({ ready: true }, { NOTIFY_SOCKET: name });
    expect(await messages).toEqual(['READY=1']);
  });

  it('fails with the errno when nobody listens, or the address is not one', () => {
    expect(() => sdNotify({ ready: true }, { NOTIFY_SOCKET: join(dir, 'absent.sock') })).toThrow(
      expect.objectContaining({ code: 'ENOENT', errno: 2 }),
    );
    expect(() => sdNotify({ ready: true }, { NOTIFY_SOCKET: 'relative.sock' })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => sdNotify({ ready: true }, { NOTIFY_SOCKET: `/${'x'.repeat(200)}` })).toThrow(
      expect.objectContaining({ code: 'ENAMETOOLONG' }),
    );
  });
});
