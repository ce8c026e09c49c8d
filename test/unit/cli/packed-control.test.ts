// The control channel over a real unix socket: stats, compact with progress,
// refused requests, a daemon that is not there, and the stats-only socket a
// --stats-group daemon opens for that group (used by a non-root `stats -n ID`).
import { spawn } from 'node:child_process';
import { chmodSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { controlCall } from '../../../src/cli/control-client.js';
import { controlSocketPath, statsSocketPath, type CompactProgress } from '../../../src/server/control-protocol.js';
import { groupId } from '../../../src/server/group.js';
import { ensureDistBuilt, REPO } from './support-dist.js';
import { startControlServer, type ControlServer } from '../../../src/server/control-server.js';
import { silentLogger } from '../../../src/server/logger.js';
import { buildStatsSnapshot, type StatsSnapshot } from '../../../src/server/targets/packed-stats.js';
import { zeroCounters } from '../../../src/engine/index.js';
import { UcError } from '../../../src/util/errors.js';

let dir: string;
let server: ControlServer | undefined;
const prevRunDir = process.env.UBLK_COMPRESS_RUN_DIR;

const SNAPSHOT: StatsSnapshot = buildStatsSnapshot({
  devId: 4, pid: process.pid, startedAtMs: 0, nowMs: 1000, pool: '/p', metaDir: '/m', dedup: 'on', compression: 'lz4',
  engine: { uuid: 'u', logicalBytes: 1 << 20, segmentBytes: 1 << 16, mappedBlocks: 2, extents: 1, liveBytes: 100, physicalBytes: 1 << 16, compaction: { running: false, candidates: 0 }, cache: { bytes: 3 << 20, hits: 900, misses: 100, evictions: 5, filterBytes: 1 << 20, filterNew: 40, filterReady: true, warmedRecords: 0 } },
  totals: zeroCounters(), sessionBlocksRead: 0, sessionBlocksWritten: 0,
  requests: { reads: 0, writes: 0, flushes: 0, discards: 0, writeZeroes: 0, errors: 0 }, poolAllocatedBytes: 0, metadataBytes: 0,
});

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'packed-ctl-'));
  process.env.UBLK_COMPRESS_RUN_DIR = dir;
  server = await startControlServer(controlSocketPath(4), {
    stats: () => SNAPSHOT,
    compact: async (liveFraction, onProgress) => {
      if (liveFraction === 1) throw new UcError('UC_IO', 'compaction failed on purpose');
      for (let i = 1; i <= 3; i += 1) onProgress({ type: 'progress', done: i, total: 3, reclaimedBytes: i * 10 });
      return { segmentsCleaned: 3, bytesMoved: 5, reclaimedBytes: 30, durationMs: 1 };
    },
    resize: async (sizeBytes) => {
      if (sizeBytes < 1 << 20) throw new UcError('UC_INVALID_ARGUMENT', 'a pool never shrinks');
      return { fromBytes: 1 << 20, toBytes: sizeBytes };
    },
  }, silentLogger());
});
afterEach(async () => {
  await server?.close();
  if (prevRunDir === undefined) delete process.env.UBLK_COMPRESS_RUN_DIR;
  else process.env.UBLK_COMPRESS_RUN_DIR = prevRunDir;
  rmSync(dir, { recursive: true, force: true });
});

describe('stats socket of --stats-group', () => {
  const NOGROUP = 65534;

  it('0660 with the group; stats only; a group member runs stats -n ID through it, never the control socket', async () => {
    ensureDistBuilt();
    chmodSync(dir, 0o755); // the run directory is 0755 in production
    const stats = await startControlServer(statsSocketPath(4), {
      stats: () => SNAPSHOT,
      compact: async () => { throw new Error('compaction must not be reachable here'); },
    }, silentLogger(), { statsGid: groupId('nogroup') });
    try {
      const st = lstatSync(statsSocketPath(4));
      expect([st.mode & 0o777, st.gid]).toEqual([0o660, NOGROUP]);
      expect(lstatSync(controlSocketPath(4)).mode & 0o777).toBe(0o600);
      const refused = await rawRequest(statsSocketPath(4), { op: 'compact', liveFraction: 0.5 });
      expect(refused).toMatchObject({ type: 'error', code: 'UC_PERMISSION_DENIED' });
      const child = spawn(process.execPath, [join(REPO, 'bin', 'ublk-compress.js'), 'stats', '-n', '4', '--json'], {
        uid: 65534, gid: NOGROUP, env: { ...process.env, UBLK_COMPRESS_RUN_DIR: dir },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => { out += String(d); });
      child.stderr.on('data', (d) => { err += String(d); });
      const code = await new Promise((r) => child.once('exit', r));
      expect(code, err).toBe(0);
      expect(JSON.parse(out)).toEqual(SNAPSHOT);
    } finally {
      await stats.close();
    }
    expect(() => groupId('no-such-group-here')).toThrow(/no such group/);
    expect(groupId('4242')).toBe(4242);
  }, 60_000);
});

/** One request line on `path`, the first reply line parsed. */
async function rawRequest(path: string, request: object): Promise<Record<string, unknown>> {
  const sock = createConnection(path);
  sock.write(`${JSON.stringify(request)}\n`);
  let text = '';
  for await (const chunk of sock) text += String(chunk);
  return JSON.parse(text.split('\n')[0]) as Record<string, unknown>;
}

describe('control channel', () => {
  it('answers stats', async () => {
    const reply = await controlCall(4, { op: 'stats' }, { timeoutMs: 2000 });
    expect(reply.stats).toEqual(SNAPSHOT);
  });

  it('streams compaction progress, then the result', async () => {
    const seen: CompactProgress[] = [];
    const reply = await controlCall(4, { op: 'compact', liveFraction: 0.8 }, { timeoutMs: 2000, onProgress: (p) => seen.push(p) });
    expect(seen.map((p) => p.done)).toEqual([1, 2, 3]);
    expect(reply.compact).toEqual({ segmentsCleaned: 3, bytesMoved: 5, reclaimedBytes: 30, durationMs: 1 });
  });

  it('turns a daemon-side failure into a UcError with its code', async () => {
    const err = await controlCall(4, { op: 'compact', liveFraction: 1 }, { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UcError);
    expect((err as UcError).code).toBe('UC_IO');
    expect((err as UcError).message).toBe('compaction failed on purpose');
  });

  it('answers resize, and refuses a malformed one', async () => {
    const reply = await controlCall(4, { op: 'resize', sizeBytes: 2 << 20 }, { timeoutMs: 2000 });
    expect(reply.resize).toEqual({ fromBytes: 1 << 20, toBytes: 2 << 20 });
    const err = await controlCall(4, { op: 'resize', sizeBytes: 4096 }, { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect((err as UcError).code).toBe('UC_INVALID_ARGUMENT');
    const bad = await controlCall(4, { op: 'resize', sizeBytes: -1 }, { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect((bad as UcError).message).toMatch(/sizeBytes must be a positive integer/);
  });

  it('refuses unknown requests with an error line', async () => {
    const line = await new Promise<string>((resolve) => {
      const sock = createConnection(controlSocketPath(4), () => sock.write('{"op":"format"}\n'));
      let text = '';
      sock.on('data', (d) => (text += String(d)));
      sock.on('end', () => resolve(text));
    });
    expect(JSON.parse(line)).toMatchObject({ type: 'error', message: expect.stringMatching(/unknown request "format"/) });
  });

  it('names the dead daemon when its socket does not answer', async () => {
    writeFileSync(join(dir, '5.json'), JSON.stringify({ devId: 5, pid: 999_999_99, backing: '/p', sizeBytes: 4096, layout: 'packed' }));
    writeFileSync(join(dir, '5.sock'), '');
    const err = await controlCall(5, { op: 'stats' }, { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect((err as UcError).code).toBe('UC_DEVICE_NOT_FOUND');
    expect((err as UcError).message).toMatch(/is gone: 'ublk-compress recover -n 5'/);
  });
});

describe('control socket hardening', () => {
  const opened: Socket[] = [];
  afterEach(() => opened.splice(0).forEach((s) => s.destroy()));
  function connect(devId: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(controlSocketPath(devId), () => resolve(sock));
      sock.once('error', reject);
      opened.push(sock);
    });
  }
  function closed(sock: Socket): Promise<number> {
    const t0 = Date.now();
    return new Promise((resolve) => {
      if (sock.destroyed) resolve(0);
      sock.once('close', () => resolve(Date.now() - t0));
    });
  }
  const handlers = { stats: () => SNAPSHOT, compact: async () => ({ segmentsCleaned: 0, bytesMoved: 0, reclaimedBytes: 0, durationMs: 0 }) };

  it('is a socket of mode 0600 from creation, whatever the umask', async () => {
    const before = process.umask(0o000);
    try {
      const s = await startControlServer(controlSocketPath(6), handlers, silentLogger());
      const st = lstatSync(controlSocketPath(6));
      expect(st.isSocket()).toBe(true);
      expect(st.mode & 0o777).toBe(0o600);
      expect(process.umask()).toBe(0o000); // restored
      await s.close();
    } finally {
      process.umask(before);
    }
  });

  it('closes a connection that sends no request within the idle timeout', async () => {
    const s = await startControlServer(controlSocketPath(7), handlers, silentLogger(), { limits: { idleMs: 300, connectionsMax: 4 } });
    try {
      const idle = await connect(7);
      const ms = await closed(idle);
      expect(ms).toBeGreaterThanOrEqual(200);
      expect(ms).toBeLessThan(5000);
      expect((await controlCall(7, { op: 'stats' }, { timeoutMs: 2000 })).stats).toEqual(SNAPSHOT);
    } finally {
      await s.close();
    }
  });

  it('caps concurrent connections; freed slots serve again', async () => {
    const s = await startControlServer(controlSocketPath(8), handlers, silentLogger(), { limits: { idleMs: 60_000, connectionsMax: 3 } });
    try {
      const idle = [await connect(8), await connect(8), await connect(8)];
      const extra = await connect(8);
      expect(await closed(extra)).toBeLessThan(5000); // dropped by the server at once
      for (const sock of idle) expect(sock.destroyed).toBe(false);
      idle.forEach((sock) => sock.destroy());
      await new Promise((r) => setTimeout(r, 100));
      expect((await controlCall(8, { op: 'stats' }, { timeoutMs: 2000 })).stats).toEqual(SNAPSHOT);
    } finally {
      await s.close();
    }
  });
});
