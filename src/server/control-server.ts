// Daemon side of the control channel (control-protocol.ts): a unix socket
// server on the Node main thread. Requests are small and rare; a compaction
// request streams progress lines while it runs. The socket is created mode
// 0600 (umask 0177 around bind: never reachable by others, not even for a
// moment; the CLI runs as root) and removed at close. With `--stats-group` a
// second socket answers `stats` only (compaction is refused there): mode 0660,
// bound 0600 and only then given the group and its read-write bits. A connection must send
// its request within CONTROL_IDLE_MS, and at most CONTROL_CONNECTIONS_MAX are
// open at once, so idle clients cannot pile up in the daemon.

import assert from 'node:assert';
import { chmodSync, chownSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { UcError } from '../util/errors.js';
import {
  parseControlRequest,
  type CompactProgress,
  type CompactResult,
  type ControlReply,
  type ResizeResult,
} from './control-protocol.js';
import type { Logger } from './logger.js';
import type { DirectServeStats } from './targets/direct-native.js';
import type { StatsSnapshot } from './targets/packed-stats.js';

/** Longest request line accepted: requests are tiny JSON objects. */
const REQUEST_BYTES_MAX = 4096;
/** A client sends its one request line at once; one that does not is dropped. */
export const CONTROL_IDLE_MS = 10_000;
/** stats and compact are rare: a few concurrent clients are plenty. */
export const CONTROL_CONNECTIONS_MAX = 16;

export interface ControlLimits {
  readonly idleMs: number;
  readonly connectionsMax: number;
}

/** A packed daemon answers stats, compact and resize; a 1:1 daemon stats (directStats) and resize. */
export type ControlHandlers =
  | {
      stats(): StatsSnapshot;
      compact(liveFraction: number, onProgress: (p: CompactProgress) => void): Promise<CompactResult>;
      resize(sizeBytes: number): Promise<ResizeResult>;
    }
  | { directStats(): DirectServeStats; resize(sizeBytes: number): Promise<ResizeResult> };

export interface ControlServer {
  close(): Promise<void>;
}

function send(sock: Socket, reply: ControlReply): void {
  if (!sock.destroyed) sock.write(`${JSON.stringify(reply)}\n`);
}

async function answer(sock: Socket, line: string, h: ControlHandlers, statsOnly: boolean): Promise<void> {
  try {
    const req = parseControlRequest(line);
    if (statsOnly && req.op !== 'stats') throw new UcError('UC_PERMISSION_DENIED', 'the stats socket answers stats only');
    if (req.op === 'resize') {
      send(sock, { type: 'result', resize: await h.resize(req.sizeBytes) });
    } else if ('directStats' in h) {
      if (req.op !== 'stats') throw new UcError('UC_INVALID_ARGUMENT', `${req.op} is for packed devices only`);
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

/** Binds `path` with umask 0177, so the socket is 0600 from its first moment. */
function listenPrivate(server: Server, path: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const before = process.umask(0o177);
    try {
      server.listen(path, () => resolve()); // bind(2) happens inside listen(), synchronously
    } finally {
      process.umask(before);
    }
  });
}

export interface ControlServerOptions {
  readonly limits?: ControlLimits;
  /** The stats socket: `stats` only, readable and writable by this group (0660). */
  readonly statsGid?: number;
}

export async function startControlServer(
  path: string,
  handlers: ControlHandlers,
  log: Logger,
  options: ControlServerOptions = {},
): Promise<ControlServer> {
  const limits = options.limits ?? { idleMs: CONTROL_IDLE_MS, connectionsMax: CONTROL_CONNECTIONS_MAX };
  const statsOnly = options.statsGid !== undefined;
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  try {
    unlinkSync(path); // a socket left by a killed daemon of this device
  } catch {
    // none
  }
  const server: Server = createServer((sock) => {
    let pending = '';
    sock.on('error', () => sock.destroy());
    sock.setTimeout(limits.idleMs, () => sock.destroy());
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
      sock.setTimeout(0); // a compaction may run long between progress lines
      void answer(sock, line, handlers, statsOnly).catch((err: unknown) => log.error({ err }, 'control request failed'));
    });
  });
  server.maxConnections = limits.connectionsMax; // beyond it, new connections are closed
  server.unref(); // the device, not the socket, keeps the daemon alive
  await listenPrivate(server, path);
  // No chmod afterwards (that would leave a window): the umask made it private.
  assert.equal(lstatSync(path).mode & 0o077, 0, 'control socket created private');
  if (options.statsGid !== undefined) {
    // Private until it has the group; then the group may connect (stats only).
    chownSync(path, process.getuid?.() ?? 0, options.statsGid);
    chmodSync(path, 0o660);
  }
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
