// Backing-path checks and the 1:1 backing file plan: created sparse,
// extended, never truncated, undone on a failed start; every refusal is a
// UcError with the code the CLI maps to its exit status.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyDirectBacking, claimDirectBacking, describePlan, planDirectBacking } from '../../../src/server/targets/direct-backing.js';
import { exitCodeOf } from '../../../src/cli/exit-codes.js';
import { inspectBacking } from '../../../src/server/preflight.js';
import { refusal } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'ublk-backing-'));
const roDir = join(dir, 'ro');
let roMounted = false;
afterAll(() => {
  if (roMounted) spawnSync('umount', [roDir]);
  rmSync(dir, { recursive: true, force: true });
});


const MiB = 1024 * 1024;

describe('inspectBacking', () => {
  it('refuses a directory (exit 2)', () => {
    const err = refusal(() => inspectBacking(dir));
    expect(err.message).toMatch(/is a directory/);
    expect(exitCodeOf(err)).toBe(2);
  });

  it('refuses a missing parent directory and a character device', () => {
    expect(refusal(() => inspectBacking(join(dir, 'nope', 'x.img'))).message).toMatch(/does not exist/);
    expect(refusal(() => inspectBacking('/dev/null')).message).toMatch(/neither a regular file nor a block device/);
  });

  it('refuses a file, or a new file, on a read-only filesystem', () => {
    mkdirSync(roDir);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'ublk-test', roDir]);
    expect(mounted.status, String(mounted.stderr)).toBe(0);
    roMounted = true;
    writeFileSync(join(roDir, 'old.img'), Buffer.alloc(2 * MiB));
    expect(spawnSync('mount', ['-o', 'remount,ro', roDir]).status).toBe(0);
    for (const p of [join(roDir, 'old.img'), join(roDir, 'new.img')]) {
      const err = refusal(() => planDirectBacking(p, 2 * MiB));
      expect(err.message).toMatch(/read-only filesystem/);
      expect(err.errno).toBe(30);
    }
    expect(existsSync(join(roDir, 'new.img'))).toBe(false);
  });
});

describe('planDirectBacking / applyDirectBacking', () => {
  it('creates a missing file sparse and says so; undo removes it', () => {
    const path = join(dir, 'new.img');
    const plan = planDirectBacking(path, 64 * MiB);
    expect(plan).toMatchObject({ path, sizeBytes: 64 * MiB, action: 'create' });
    expect(describePlan(plan)).toMatch(/creating sparse backing file .*new\.img \(64\.00 MiB\)/);
    expect(existsSync(path)).toBe(false); // planning touches nothing
    const claimed = claimDirectBacking(plan, 64 * MiB);
    expect(claimed.lock.created).toBe(true);
    const undo = applyDirectBacking(claimed.plan, claimed.lock);
    const st = statSync(path);
    expect(st.size).toBe(64 * MiB);
    expect(st.blocks).toBe(0); // sparse
    expect(st.mode & 0o777).toBe(0o600);
    undo();
    claimed.lock.release();
    expect(existsSync(path)).toBe(false);
  });

  it('extends a smaller file (undo restores its size) and never truncates a larger one', () => {
    const path = join(dir, 'small.img');
    writeFileSync(path, Buffer.alloc(2 * MiB, 7));
    const plan = planDirectBacking(path, 8 * MiB);
    expect(plan.action).toBe('extend');
    expect(describePlan(plan)).toMatch(/extending backing file .* from 2\.00 MiB to 8\.00 MiB/);
    const locked = statSync(path);
    const undo = applyDirectBacking(plan, locked);
    expect(statSync(path).size).toBe(8 * MiB);
    undo();
    expect(statSync(path).size).toBe(2 * MiB);

    const smaller = planDirectBacking(path, 1 * MiB);
    expect(smaller).toMatchObject({ action: 'none', sizeBytes: 1 * MiB });
    applyDirectBacking(smaller, locked)();
    expect(statSync(path).size).toBe(2 * MiB);
  });

  it('uses the size of an existing file when --size is absent', () => {
    const path = join(dir, 'sized.img');
    writeFileSync(path, Buffer.alloc(3 * MiB + 100));
    expect(planDirectBacking(path, undefined)).toMatchObject({ sizeBytes: 3 * MiB, action: 'none' });
    expect(refusal(() => planDirectBacking(join(dir, 'absent.img'), undefined)).message).toMatch(/--size is required/);
    const tiny = join(dir, 'tiny.img');
    writeFileSync(tiny, Buffer.alloc(4096));
    expect(refusal(() => planDirectBacking(tiny, undefined)).message).toMatch(/below the minimum of 1 MiB/);
  });

  it('never creates over a file that appeared after planning: plans again under the lock', () => {
    const path = join(dir, 'race.img');
    const plan = planDirectBacking(path, 4 * MiB);
    writeFileSync(path, 'user data');
    const claimed = claimDirectBacking(plan, 4 * MiB);
    expect(claimed.lock.created).toBe(false);
    expect(claimed.plan).toMatchObject({ action: 'extend', fromBytes: 9 });
    const undo = applyDirectBacking(claimed.plan, claimed.lock);
    undo();
    claimed.lock.release();
    expect(readFileSync(path, 'utf8')).toBe('user data');
  });

  it('undo removes only the file this start created, never one put in its place', () => {
    const path = join(dir, 'undo-swap.img');
    const claimed = claimDirectBacking(planDirectBacking(path, 4 * MiB), 4 * MiB);
    expect(claimed.lock.created).toBe(true);
    const undo = applyDirectBacking(claimed.plan, claimed.lock);
    writeFileSync(`${path}.user`, 'user data');
    renameSync(`${path}.user`, path);
    undo();
    expect(readFileSync(path, 'utf8')).toBe('user data');
    claimed.lock.release();
  });

  it('refuses to size a file swapped in under the locked path, and leaves both files alone', () => {
    const path = join(dir, 'swapped.img');
    const other = join(dir, 'swap-in.img');
    writeFileSync(path, Buffer.alloc(2 * MiB, 1));
    const claimed = claimDirectBacking(planDirectBacking(path, 8 * MiB), 8 * MiB);
    writeFileSync(other, 'not locked');
    renameSync(other, path); // the locked inode is now unnamed; the path names another file
    const err = refusal(() => applyDirectBacking(claimed.plan, claimed.lock));
    expect(err.code).toBe('UC_POOL_LOCKED');
    expect(err.message).toMatch(/was replaced after it was locked/);
    expect(readFileSync(path, 'utf8')).toBe('not locked');
    claimed.lock.release();
  });
});
