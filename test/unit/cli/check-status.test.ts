// `check`'s fsck-like statuses through main(): 0 clean, 4 problems found,
// 8 not checked (missing, foreign, in use; --repair beside another check), 2 usage; --help shows them and
// -b/-m; and the plain progress lines long operations print off a terminal.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkExitOf, CHECK_NOT_CHECKED, CHECK_PROBLEMS } from '../../../src/cli/check-status.js';
import { runMain } from './run-main.js';
import { formatPool } from '../../../src/engine/index.js';
import { claimBacking } from '../../../src/server/backing-lock.js';
import { plainProgress, progressSink } from '../../../src/cli/progress.js';
import { UcError } from '../../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'uc-checkstatus-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = runMain;

describe('check exit statuses', () => {
  it('maps damage to 4 and everything that prevents the audit to 8', () => {
    for (const code of ['UC_POOL_CORRUPT', 'UC_POOL_TRUNCATED', 'UC_META_CORRUPT', 'UC_META_ROLLBACK'] as const) {
      expect(checkExitOf(new UcError(code, 'x')), code).toBe(CHECK_PROBLEMS);
    }
    for (const code of ['UC_POOL_LOCKED', 'UC_META_MISSING', 'UC_POOL_FOREIGN', 'UC_POOL_VERSION', 'UC_META_MISMATCH', 'UC_PERMISSION_DENIED', 'UC_IO'] as const) {
      expect(checkExitOf(new UcError(code, 'x')), code).toBe(CHECK_NOT_CHECKED);
    }
    expect(checkExitOf(new UcError('UC_INVALID_ARGUMENT', 'x'))).toBe(2);
  });

  it('a missing pool or a foreign file is "not checked" (8), a missing --backing is usage (2)', async () => {
    const missing = await run('check', '-b', join(dir, 'absent.img'));
    expect(missing.code, missing.err).toBe(8);
    expect(missing.err.trimEnd().split('\n')).toHaveLength(1);
    const foreign = join(dir, 'foreign.img');
    writeFileSync(foreign, Buffer.alloc(1 << 20, 0x5a));
    const f = await run('check', '--backing', foreign, '-m', join(dir, 'foreign.meta'));
    expect(f.code, f.err).toBe(8);
    expect((await run('check')).code).toBe(2);
  });

  it('--repair writes, so it takes the lock exclusively: refused (8) while another check holds it', async () => {
    const pool = join(dir, 'repair.img');
    await (await formatPool({ backingPath: pool, logicalBytes: 1 << 20, segmentBytes: 65536, flushDelayMs: 0 })).close();
    const otherCheck = claimBacking(pool, { shared: true });
    try {
      const plain = await run('check', '-b', pool);
      expect(plain.code, plain.err).toBe(0); // readers share the lock
      const repair = await run('check', '-b', pool, '--repair');
      expect(repair.code, repair.err).toBe(8);
      expect(repair.err).toMatch(/is in use by/);
    } finally {
      otherCheck.release();
    }
    expect((await run('check', '-b', pool, '--repair')).code).toBe(0);
  });

  it('--help shows -b, --backing FILE, -m, --meta DIR and the statuses', async () => {
    const r = await run('check', '--help');
    expect(r.out).toContain('-b, --backing FILE');
    expect(r.out).toContain('-m, --meta DIR');
    expect(r.out).toMatch(/^ {2} 4 {2}problems found/m);
    expect(r.out).toMatch(/^ {2} 8 {2}not checked/m);
  });
});

describe('plain progress (stderr not a terminal)', () => {
  it('prints the latest figures every interval, the elapsed time before any, and stops at finish', async () => {
    const lines: string[] = [];
    const stream = { isTTY: false, write: (s: string) => lines.push(s) > 0 };
    const p = plainProgress(stream, { label: 'compact', intervalMs: 40 });
    await new Promise((r) => setTimeout(r, 70));
    p.update(3, 12, 'segments');
    await new Promise((r) => setTimeout(r, 60));
    p.finish();
    const count = lines.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(lines.length).toBe(count);
    expect(lines[0]).toMatch(/^ublk-compress: compact: working \(\d+ s\)\n$/);
    expect(lines.at(-1)).toMatch(/^ublk-compress: compact: 25% 3\/12 segments \(\d+ s\)\n$/);
  });

  it('a terminal gets the redrawn bar instead', () => {
    const out: string[] = [];
    const bar = progressSink({ isTTY: true, write: (s: string) => out.push(s) > 0 }, { label: 'compact' });
    bar.update(1, 2);
    bar.finish();
    expect(out.join('')).toMatch(/\r\x1b\[2K\[#{15}\.{15}\] +50% 1\/2\n$/);
  });
});
