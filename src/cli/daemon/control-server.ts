// Daemon side of the control channel (../control-protocol.ts): a unix socket
// server on the Node main thread. Requests are small and rare; a compaction
// request streams progress lines while it runs. The socket is created mode
// 0600 (the CLI runs as root) and removed at close.

import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { UcError } from '../../util/errors.js';
import {
  parseControlRequest,
  type CompactProgress,
  type CompactResult,
  type ControlReply,
} from '../control-protocol.js';
import type { DirectServeStats } from '../direct-status.js';
import type { StatsSnapshot } from '../packed-stats.js';
import type { Logger } from '../logger.js';

/** Longest request line accepted: requests are tiny JSON objects. */
const REQUEST_BYTES_MAX = 4096;

/** A packed daemon answers stats and compact; a 1:1 daemon only directStats. */
export type ControlHandlers =
  | {
      stats(): StatsSnapshot;
      compact(liveFraction: number, onProgress: (p: CompactProgress) => void): Promise<CompactResult>;
    }
  | { directStats(): DirectServeStats };

export interface ControlServer {
  close(): Promise<void>;
}

function send(sock: Socket, reply: ControlReply): void {
  if (!sock.destroyed) sock.write(`${JSON.stringify(reply)}\n`);
}

async function answer(sock: Socket, line: string, h: ControlHandlers): Promise<void> {
  try {
    const req = parseControlRequest(line);
    if ('directStats' in h) {
      if (req.op !== 'stats') throw new UcError('UC_INVALID_ARGUMENT', 'compaction is for packed devices only');
      send(sock, { type: 'result', direct: h.directStats() });
    } else if (req.op === 'stats') {
      send(sock, { type: 'result', stats: h.stats() });
    } else {
      const compact = await h.compact(req.liveFraction, (p) => send(sock, p));
      send(sock, { type: 'result', compact });
    }
  } catch (err) {
    const code = err instanceof UcError ? err.code : 'UC_INVALID_ARGUMENT';
    send(sock, { type: 'error', code, message: (err as Error).message });
  }
  sock.end();
}

export async function startControlServer(path: string, handlers: ControlHandlers, log: Logger): Promise<ControlServer> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  try {
    unlinkSync(path); // a socket left by a killed daemon of this device
  } catch {
    // none
  }
  const server: Server = createServer((sock) => {
    let pending = '';
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk) => {
      if (pending === undefined) return;
      pending += String(chunk);
      const nl = pending.indexOf('\n');
      if (nl === -1) {
        if (pending.length > REQUEST_BYTES_MAX) sock.destroy();
        return;
      }
      const line = pending.slice(0, nl);
      pending = '';
      sock.removeAllListeners('data');
      void answer(sock, line, handlers).catch((err: unknown) => log.error({ err }, 'control request failed'));
    });
  });
  server.unref(); // the device, not the socket, keeps the daemon alive
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        try {
          unlinkSync(path);
        } catch {
          // already gone
        }
      }),
  };
}
