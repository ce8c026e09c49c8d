// A full backing filesystem is logged once per episode, not once per request.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loggedTarget } from '../../../src/server/logged-target.js';
import { openLogger } from '../../../src/server/logger.js';
import type { BlockTarget } from '../../../src/device/target.js';
import { UcError } from '../../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'ublk-logged-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loggedTarget on ENOSPC', () => {
  it('logs the first ENOSPC failure, then none until a write succeeds', async () => {
    const path = join(dir, 'log.jsonl');
    let full = true;
    const inner: BlockTarget = {
      read: async () => {},
      write: async () => {
        if (full) throw new UcError('UC_NO_SPACE', 'full');
      },
      flush: async () => {
        if (full) throw new UcError('UC_NO_SPACE', 'full');
      },
      discard: async () => {},
      writeZeroes: async () => {},
      close: async () => {},
    };
    const t = loggedTarget(inner, openLogger(path, { devId: 1 }));
    const buf = Buffer.alloc(4096);
    for (let i = 0; i < 5; i++) await expect(t.write(i, 1, buf, false)).rejects.toThrow('full');
    await expect(t.flush()).rejects.toThrow('full');
    await t.read(0, 1, buf); // a read does not end the episode
    await expect(t.write(9, 1, buf, false)).rejects.toThrow('full');
    full = false;
    await t.write(10, 1, buf, false);
    full = true;
    await expect(t.write(11, 1, buf, false)).rejects.toThrow('full');
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.lba)).toEqual([0, 11]);
    expect(lines[0]).toMatchObject({ errno: 28, msg: 'request failed' });
    expect(String(lines[0].note)).toMatch(/not logged until a write succeeds/);
  });
});
