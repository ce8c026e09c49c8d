// A 1:1 daemon's control channel and what `stats`/`list` make of it: the
// request-path report over a real unix socket, compaction refused, the
// labels and table, UBLK_DIRECT_PATH parsing, and the log lines for the
// failures the native path committed (one per kind and batch; ENOSPC once per episode).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { controlCall } from '../../../src/cli/control-client.js';
import { controlSocketPath } from '../../../src/server/control-protocol.js';
import { startControlServer, type ControlServer } from '../../../src/server/control-server.js';
import { logNativeErrors, requestPathFromEnv, zeroCopyWish } from '../../../src/server/targets/direct-native.js';
import {
  ioPathLabel,
  queryDirectStats,
  renderDirectStats,
  type DirectServeStats,
} from '../../../src/cli/direct-status.js';
import type { Logger } from '../../../src/server/logger.js';
import { UBLK_IO_OP, type DirectRequestError } from '../../../src/native/index.js';
import type { BlockTarget } from '../../../src/device/target.js';
import { loggedTarget } from '../../../src/server/logged-target.js';
import { NoSpaceEpisode } from '../../../src/server/no-space-episode.js';
import { ENOSPC } from '../../../src/util/errno.js';
import { UcError } from '../../../src/util/errors.js';

const STATS: DirectServeStats = {
  sizeBytes: 3 * 2 ** 30,
  requestPath: 'native',
  backingIo: 'O_DIRECT file',
  zeroCopy: false,
  native: {
    reads: 10, writes: 20, flushes: 3, discards: 1, writeZeroes: 2,
    readBytes: 40960, writeBytes: 81920, errors: 0, toJs: 1, inflight: 0,
    rawReads: 0, rawWrites: 0, zeroCopyReads: 0, zeroCopyWrites: 0, userCopies: 0,
  },
  js: { reads: 0, writes: 1, flushes: 0, discards: 0, writeZeroes: 0, errors: 0 },
};

let dir: string;
let server: ControlServer | undefined;
const prevRunDir = process.env.UBLK_COMPRESS_RUN_DIR;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'direct-ctl-'));
  process.env.UBLK_COMPRESS_RUN_DIR = dir;
  const log = { error: () => {} } as unknown as Logger;
  const resize = async (sizeBytes: number): Promise<{ fromBytes: number; toBytes: number }> => ({ fromBytes: 1 << 20, toBytes: sizeBytes });
  server = await startControlServer(controlSocketPath(5), { directStats: () => STATS, resize }, log);
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  if (prevRunDir === undefined) delete process.env.UBLK_COMPRESS_RUN_DIR;
  else process.env.UBLK_COMPRESS_RUN_DIR = prevRunDir;
  rmSync(dir, { recursive: true, force: true });
});

describe('1:1 daemon control channel', () => {
  it('answers stats with the request-path report', async () => {
    const reply = await controlCall(5, { op: 'stats' }, { timeoutMs: 2000 });
    expect(reply.direct).toEqual(STATS);
    expect(reply.stats).toBeUndefined();
    expect(await queryDirectStats(5, 2000)).toEqual(STATS);
  });

  it('answers resize (online grow of a 1:1 device)', async () => {
    const reply = await controlCall(5, { op: 'resize', sizeBytes: 2 << 20 }, { timeoutMs: 2000 });
    expect(reply.resize).toEqual({ fromBytes: 1 << 20, toBytes: 2 << 20 });
  });

  it('refuses compaction', async () => {
    const err = await controlCall(5, { op: 'compact', liveFraction: 0.5 }, { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UcError);
    expect((err as UcError).code).toBe('UC_INVALID_ARGUMENT');
    expect((err as UcError).message).toMatch(/packed devices only/);
  });

  it('queryDirectStats is undefined when no daemon answers', async () => {
    expect(await queryDirectStats(6, 500)).toBeUndefined();
  });
});

describe('labels and table', () => {
  it('names the path serving reads and writes', () => {
    expect(ioPathLabel(STATS)).toBe('odirect');
    expect(ioPathLabel({ ...STATS, backingIo: 'buffered file' })).toBe('buffered');
    expect(ioPathLabel({ ...STATS, requestPath: 'js', backingIo: 'buffered file' })).toBe('js-buffered');
  });

  it('renders per-path counts', () => {
    const t = renderDirectStats(STATS);
    expect(t).toMatch(/^size +3\.00 GiB\nrequest path +native, O_DIRECT file$/m);
    expect(t).toMatch(/^native reads \/ writes +10 \/ 20 \(40960 \/ 81920 bytes\)$/m);
    expect(t).toMatch(/^native errors \/ handed to JS +0 \/ 1$/m);
    expect(t).toMatch(/^JS reads \/ writes +0 \/ 1$/m);
    expect(t).toMatch(/^ +zero copy \(request pages\) +off$/m);
    expect(t).not.toMatch(/user copies/);
  });

  it('renders the zero-copy counts of a zero-copy device', () => {
    const zc: DirectServeStats = { ...STATS, zeroCopy: true, native: { ...STATS.native, zeroCopyReads: 10, zeroCopyWrites: 20, userCopies: 1 } };
    const t = renderDirectStats(zc);
    expect(t).toMatch(/^ +zero copy \(request pages\) +10 \/ 20$/m);
    expect(t).toMatch(/^user copies \(JS-served data\) +1$/m);
  });
});

describe('--zero-copy', () => {
  it('on requires it, off never asks, auto asks where it was measured to win (a file in memory)', () => {
    expect(zeroCopyWish('on', 'native', false, false)).toBe('required');
    expect(zeroCopyWish('on', 'native', true, true)).toBe('required');
    expect(zeroCopyWish('on', 'js', false, true)).toBe('required');
    expect(zeroCopyWish('off', 'native', true, true)).toBe('off');
    expect(zeroCopyWish('auto', 'native', true, true)).toBe('if-offered');
    // Not offered (6.12): a memory file keeps its inline copies.
    expect(zeroCopyWish('auto', 'native', true, false)).toBe('off');
    // A disk backing copies (copy won there), and the JS path gains nothing.
    expect(zeroCopyWish('auto', 'native', false, true)).toBe('off');
    expect(zeroCopyWish('auto', 'js', true, true)).toBe('off');
  });
});

describe('UBLK_DIRECT_PATH', () => {
  it('defaults to native, accepts js, refuses anything else', () => {
    expect(requestPathFromEnv({})).toBe('native');
    expect(requestPathFromEnv({ UBLK_DIRECT_PATH: 'native' })).toBe('native');
    expect(requestPathFromEnv({ UBLK_DIRECT_PATH: 'js' })).toBe('js');
    expect(() => requestPathFromEnv({ UBLK_DIRECT_PATH: 'fast' })).toThrow(/must be 'native' or 'js'/);
  });
});

describe('logNativeErrors', () => {
  type Line = [Record<string, unknown>, string];
  const capture = (): { log: Logger; lines: Line[] } => {
    const lines: Line[] = [];
    return { lines, log: { error: (o: Record<string, unknown>, m: string) => lines.push([o, m]) } as unknown as Logger };
  };
  const write = (lba: number, errno: number): DirectRequestError => ({ op: UBLK_IO_OP.WRITE, startSector: lba * 8, nrSectors: 16, errno });

  it('logs one line per kind of failure in a batch, with a count and the first lba', () => {
    const { log, lines } = capture();
    logNativeErrors(log, [
      write(10, 5), write(12, 5),
      { op: UBLK_IO_OP.FLUSH, startSector: 2 ** 64 - 1, nrSectors: 0, errno: 28 },
    ]);
    expect(lines).toEqual([
      [{ op: 'write', errno: 5, count: 2, firstLba: 10, blocks: 2, path: 'native' }, 'requests failed'],
      [{ op: 'flush', errno: 28, count: 1, firstLba: 0, blocks: 0, path: 'native', note: expect.stringMatching(/not logged/) }, 'requests failed'],
    ]);
  });

  it('a full disk: one line per episode, shared with the JS target; a successful write on either path ends it', async () => {
    const { log, lines } = capture();
    const noSpace = new NoSpaceEpisode();
    const full = Array.from({ length: 1000 }, (_, i) => write(i, ENOSPC));
    logNativeErrors(log, full, noSpace, 0);
    logNativeErrors(log, full, noSpace, 0); // still full, nothing written since
    logNativeErrors(log, [write(7, 5)], noSpace, 0); // other failures are always logged
    expect(lines.map(([o]) => [o.errno, o.count])).toEqual([[ENOSPC, 1000], [5, 1]]);
    logNativeErrors(log, full, noSpace, 3); // three native writes succeeded in between: a new episode
    expect(lines).toHaveLength(3);
    // The JS target's failures belong to the same episode; its successful write ends it.
    let fail = true;
    const inner = { write: async () => { if (fail) throw new UcError('UC_NO_SPACE', 'full'); } } as unknown as BlockTarget;
    const target = loggedTarget(inner, log, noSpace);
    await expect(target.write(1, 1, Buffer.alloc(4096), false)).rejects.toThrow('full');
    expect(lines).toHaveLength(3);
    fail = false;
    await target.write(1, 1, Buffer.alloc(4096), false);
    logNativeErrors(log, full, noSpace, 3);
    expect(lines).toHaveLength(4);
  });

  it('a logger that throws (its own filesystem full) never escapes into the addon callback', () => {
    const log = { error: () => { throw Object.assign(new Error('ENOSPC: no space left on device, write'), { errno: -ENOSPC }); } } as unknown as Logger;
    expect(() => logNativeErrors(log, [write(1, 5)])).not.toThrow();
  });
});
