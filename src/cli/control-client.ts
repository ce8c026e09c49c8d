// CLI side of the control channel (control-protocol.ts): connects to a
// device's daemon, sends one request and yields its reply lines. Every
// failure to reach the daemon is a UcError that says which device and why.

import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { UcError } from '../util/errors.js';
import { controlSocketPath, type ControlReply, type ControlRequest } from './control-protocol.js';
import { readRunRecord, processAlive } from './run-file.js';

/** Why there is nobody to talk to, as a UcError (device missing, unknown layout, daemon dead). */
function unreachable(devId: number, detail: string): UcError {
  const record = readRunRecord(devId);
  if (!record) return new UcError('UC_DEVICE_NOT_FOUND', `no device ${devId} served by ublk-compress (see 'ublk-compress list')`);
  if (record.layout !== 'packed' && record.layout !== 'direct') {
    return new UcError('UC_INVALID_ARGUMENT', `/dev/ublkb${devId} uses the ${record.layout} layout: it has no pool statistics`);
  }
  if (!processAlive(record.pid)) {
    return new UcError(
      'UC_DEVICE_NOT_FOUND',
      `the daemon of /dev/ublkb${devId} (pid ${record.pid}) is gone: 'ublk-compress recover -n ${devId}' re-attaches it`,
    );
  }
  return new UcError('UC_IO', `cannot reach the daemon of /dev/ublkb${devId}: ${detail}`);
}

/** Sends `request` and yields reply lines until the daemon's final result or error. */
export async function* controlRequest(devId: number, request: ControlRequest, timeoutMs: number): AsyncGenerator<ControlReply> {
  const path = controlSocketPath(devId);
  if (!existsSync(path)) throw unreachable(devId, `${path} does not exist`);
  const sock = createConnection(path);
  sock.setTimeout(timeoutMs);
  const failed = new Promise<never>((_, reject) => {
    sock.once('error', (err) => reject(unreachable(devId, err.message)));
    sock.once('timeout', () => {
      reject(new UcError('UC_TIMEOUT', `the daemon of /dev/ublkb${devId} did not answer within ${timeoutMs} ms`));
      sock.destroy();
    });
  });
  failed.catch(() => undefined);
  await Promise.race([new Promise<void>((resolve) => sock.once('connect', () => resolve())), failed]);
  sock.write(`${JSON.stringify(request)}\n`);
  let pending = '';
  try {
    const iter = sock[Symbol.asyncIterator]();
    for (;;) {
      const next = (await Promise.race([iter.next(), failed])) as IteratorResult<Buffer>;
      if (next.done) break;
      pending += String(next.value);
      let nl: number;
      while ((nl = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.trim() === '') continue;
        const reply = JSON.parse(line) as ControlReply;
        yield reply;
        if (reply.type !== 'progress') return;
      }
    }
  } finally {
    sock.destroy();
  }
  throw new UcError('UC_IO', `the daemon of /dev/ublkb${devId} closed the connection without an answer`);
}

/** One request, the final reply; progress lines go to `onProgress`. */
export async function controlCall(
  devId: number,
  request: ControlRequest,
  opts: { timeoutMs: number; onProgress?: (p: Extract<ControlReply, { type: 'progress' }>) => void },
): Promise<Extract<ControlReply, { type: 'result' }>> {
  for await (const reply of controlRequest(devId, request, opts.timeoutMs)) {
    if (reply.type === 'progress') opts.onProgress?.(reply);
    else if (reply.type === 'error') throw new UcError((reply.code as UcError['code']) ?? 'UC_IO', reply.message);
    else return reply;
  }
  throw new UcError('UC_IO', `no answer from the daemon of /dev/ublkb${devId}`);
}
