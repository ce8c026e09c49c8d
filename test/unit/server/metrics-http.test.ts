// The /metrics endpoint over real HTTP: the exposition text with its content
// type, 404 elsewhere, 405 for other methods, 500 with the reason when the
// rendering fails; listen addresses parsed and
// printed back; a config file may set `metrics`.
import { describe, expect, it } from 'vitest';
import { parseDeviceConfig } from '../../../src/cli/device-config.js';
import { formatListenAddress, parseListenAddress, startMetricsServer } from '../../../src/server/metrics-http.js';

describe('listen addresses', () => {
  it('parses PORT, :PORT, HOST:PORT and [V6]:PORT, local by default', () => {
    expect(parseListenAddress('9100')).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(parseListenAddress(':9100')).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(parseListenAddress('0.0.0.0:9100')).toEqual({ host: '0.0.0.0', port: 9100 });
    expect(parseListenAddress('[::1]:9100')).toEqual({ host: '::1', port: 9100 });
    for (const a of ['9100', '0.0.0.0:1', '[::1]:65535']) expect(formatListenAddress(parseListenAddress(a)).endsWith(a.replace(/^9100$/, ':9100'))).toBe(true);
    for (const bad of ['', 'x', '0', '65536', 'host:', 'a b:1', '1:2:3']) {
      expect(() => parseListenAddress(bad), bad).toThrow(expect.objectContaining({ code: 'UC_INVALID_ARGUMENT' }));
    }
  });

  it('a NAME.conf may say where the daemon serves /metrics', () => {
    expect(parseDeviceConfig('d', 'backing = /p\nmetrics = :9100\n', 'd.conf').settings.get('metrics')).toBe(':9100');
    expect(() => parseDeviceConfig('d', 'backing = /p\nmetrics = nine\n', 'd.conf')).toThrow(/^d\.conf: 'metrics': 'nine' is not PORT, :PORT or HOST:PORT$/);
  });
});

describe('startMetricsServer', () => {
  it('answers GET /metrics with the text format, and nothing else', async () => {
    let n = 0;
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0 }, async () => `# HELP x_total t\n# TYPE x_total counter\nx_total ${++n}\n`);
    try {
      const base = `http://127.0.0.1:${server.address.port}`;
      const r1 = await fetch(`${base}/metrics`);
      expect(r1.status).toBe(200);
      expect(r1.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(await r1.text()).toBe('# HELP x_total t\n# TYPE x_total counter\nx_total 1\n');
      expect(await (await fetch(`${base}/metrics?x=1`)).text()).toMatch(/x_total 2\n$/); // rendered per request
      expect((await fetch(`${base}/`)).status).toBe(404);
      expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
    }
  });

  it('answers 500 with the reason when the rendering fails', async () => {
    let throwing = false;
    const render = (): Promise<string> => {
      if (throwing) throw new Error('thrown');
      return Promise.reject(new Error('no snapshot'));
    };
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0 }, render);
    try {
      const r = await fetch(`http://127.0.0.1:${server.address.port}/metrics`);
      expect([r.status, await r.text()]).toEqual([500, 'no snapshot\n']);
      throwing = true;
      const t = await fetch(`http://127.0.0.1:${server.address.port}/metrics`);
      expect([t.status, await t.text()]).toEqual([500, 'thrown\n']);
    } finally {
      await server.close();
    }
  });

  it('fails to start on a port in use', async () => {
    const first = await startMetricsServer({ host: '127.0.0.1', port: 0 }, async () => '');
    try {
      await expect(startMetricsServer(first.address, async () => '')).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await first.close();
    }
  });
});
