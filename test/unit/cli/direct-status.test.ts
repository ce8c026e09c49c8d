// A 1:1 daemon's control channel and what `stats`/`list` make of it: the
// request-path report over a real unix socket, compaction refused, the
// labels and table, UBLK_DIRECT_PATH parsing, and the log line per failure
// the native path committed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { controlCall } from '../../../src/cli/control-client.js';
import { controlSocketPath } from '../../../src/cli/control-protocol.js';
import { startControlServer, type ControlServer } from '../../../src/cli/daemon/control-server.js';
import { logNativeErrors, requestPathFromEnv } from '../../../src/cli/daemon/direct-native.js';
import {
  ioPathLabel,
  queryDirectStats,
  renderDirectStats,
  type DirectServeStats,
} from '../../../src/cli/direct-status.js';
import type { Logger } from '../../../src/cli/logger.js';
import { UBLK_IO_OP } from '../../../src/native/index.js';
import { UcError } from '../../../src/util/errors.js';

const STATS: DirectServeStats = {
  requestPath: 'native',
  backingIo: 'O_DIRECT file',
  native: {
    reads: 10, writes: 20, flushes: 3, discards: 1, writeZeroes: 2,
    readBytes: 40960, writeBytes: 81920, errors: 0, toJs: 1, inflight: 0,
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
  server = await startControlServer(controlSocketPath(5), { directStats: () => STATS }, log);
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
    expect(t).toMatch(/^request path +native, O_DIRECT file$/m);
    expect(t).toMatch(/^native reads \/ writes +10 \/ 20 \(40960 \/ 81920 bytes\)$/m);
    expect(t).toMatch(/^native errors \/ handed to JS +0 \/ 1$/m);
    expect(t).toMatch(/^JS reads \/ writes +0 \/ 1$/m);
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
  it('logs one line per failed request with op, lba, blocks and errno', () => {
    const lines: Array<[Record<string, unknown>, string]> = [];
    const log = { error: (o: Record<string, unknown>, m: string) => lines.push([o, m]) } as unknown as Logger;
    logNativeErrors(log, [
      { op: UBLK_IO_OP.WRITE, startSector: 80, nrSectors: 16, errno: 5 },
      { op: UBLK_IO_OP.FLUSH, startSector: 2 ** 64 - 1, nrSectors: 0, errno: 28 },
    ]);
    expect(lines).toEqual([
      [{ op: 'write', lba: 10, blocks: 2, errno: 5, path: 'native' }, 'request failed'],
      [{ op: 'flush', lba: 0, blocks: 0, errno: 28, path: 'native' }, 'request failed'],
    ]);
  });
});
