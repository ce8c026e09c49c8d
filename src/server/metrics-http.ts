// The daemon's /metrics endpoint (`--metrics ADDR`): the same Prometheus text
// `stats --format prometheus` prints (prometheus.ts renders it with
// prom-client), served with node:http.
// Only GET /metrics is answered; the listener never keeps the process alive.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UcError } from '../util/errors.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** `PORT`, `:PORT`, `HOST:PORT` or `[V6]:PORT`; host defaults to 127.0.0.1 (not every interface). */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):)?(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new UcError('UC_INVALID_ARGUMENT', `option --metrics: '${text}' is not PORT, :PORT or HOST:PORT`);
  }
  const host = m[1] ? m[1].replace(/^\[|\]$/g, '') : '127.0.0.1';
  return { host: host === '' ? '127.0.0.1' : host, port };
}

/** The inverse of parseListenAddress. */
export function formatListenAddress(a: ListenAddress): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

export interface MetricsServer {
  readonly address: ListenAddress;
  close(): Promise<void>;
}

export async function startMetricsServer(addr: ListenAddress, render: () => Promise<string>): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    // then(render): a render that throws before its promise still answers 500.
    Promise.resolve().then(render).then(
      (body) => {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const bound = server.address() as AddressInfo;
  return {
    address: { host: bound.address, port: bound.port },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
