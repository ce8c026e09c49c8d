// One daemon per pool (issue 7 item 9), private pools (item 10) and a full
// disk at start-up (item 5) on the host: the lock is on the pool's inode, so
// a symlink, a hard link, a bind mount or a copied metadata directory meets
// it; a block device is claimed O_EXCL whatever node names it. Every refusal
// leaves every byte of the pool and metadata unchanged.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync,
  symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { claimBacking, probeBacking, withSharedLock } from '../../../src/server/backing-lock.js';
import { toUserError } from '../../../src/server/user-error.js';
import { writeRunRecord } from '../../../src/server/run-file.js';
import { claimPackedPool, type ClaimedPool } from '../../../src/server/targets/packed-pool.js';
import { exitCodeOf } from '../../../src/cli/exit-codes.js';
import { openBackingFile, type BackingOpener } from '../../../src/io/index.js';
import { UcError } from '../../../src/util/errors.js';
import { cfgOf, packedOf, rejection as refusal } from './support.js';
import { copyLiveTree } from '../support/live-copy.js';

let dir: string;
const mounts: string[] = [];
const loops: string[] = [];
const held: ClaimedPool[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pool-lock-'));
});
afterEach(async () => {
  for (const c of held.splice(0)) {
    await c.opened.engine.close();
    c.lock.release();
  }
});
afterAll(() => {
  for (const m of mounts.reverse()) spawnSync('umount', [m]);
  for (const l of loops) spawnSync('losetup', ['-d', l]);
  rmSync(dir, { recursive: true, force: true });
});

/** sha256 of every file under each path (a file or a directory tree). */
function digest(...paths: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string): void => {
    const st = statSync(p);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
    else out[p] = createHash('sha256').update(readFileSync(p)).digest('hex');
  };
  paths.forEach(walk);
  return out;
}
async function serve(pool: string, sizeBytes = 64 << 20, metaDir?: string): Promise<ClaimedPool> {
  const c = await claimPackedPool(cfgOf(pool, sizeBytes), packedOf(pool, metaDir));
  held.push(c);
  return c;
}

describe('aliases of a served pool are refused, nothing modified', () => {
  it('symlink with a copied metadata directory, hard link, bind mount', async () => {
    const pool = join(dir, 'a.img');
    const served = await serve(pool);
    await served.opened.engine.write(2000, 1, Buffer.alloc(4096, 0xa5), true);
    const copy = join(dir, 'copied.meta');
    copyLiveTree(`${pool}.meta`, copy);
    symlinkSync(pool, join(dir, 'alias.img'));
    linkSync(pool, join(dir, 'hard.img'));
    const bind = join(dir, 'bind');
    mkdirSync(bind);
    expect(spawnSync('mount', ['--bind', dir, bind]).status).toBe(0);
    mounts.push(bind);
    const before = digest(pool, `${pool}.meta`, copy);
    for (const [alias, meta] of [
      [join(dir, 'alias.img'), copy], [join(dir, 'hard.img'), copy], [join(bind, 'a.img'), join(bind, 'copied.meta')],
    ]) {
      const err = await refusal(claimPackedPool(cfgOf(alias), packedOf(alias, meta)));
      expect(err.code).toBe('UC_POOL_LOCKED');
      expect(exitCodeOf(err)).toBe(7);
      expect(err.message).toMatch(/(is in use by|is already served by) .*nothing was changed/);
      expect(() => probeBacking(alias)).toThrow(/is in use by/); // the parent's preflight says so too
    }
    expect(digest(pool, `${pool}.meta`, copy)).toEqual(before);
  });

  it('check on a served pool refuses; a stopped pool can be served again', async () => {
    const pool = join(dir, 'c.img');
    const served = await serve(pool);
    const err = await refusal(withSharedLock(pool, async () => 'checked'));
    expect(err.code).toBe('UC_POOL_LOCKED');
    await served.opened.engine.close();
    served.lock.release();
    held.splice(held.indexOf(served), 1);
    // While a check holds its shared lock, no daemon may start on the pool.
    await withSharedLock(pool, async () => {
      expect((await refusal(claimPackedPool(cfgOf(pool), packedOf(pool)))).code).toBe('UC_POOL_LOCKED');
    });
    await serve(pool);
  });

  it('a 1:1 backing file and a block device through another device node', async () => {
    const file = join(dir, 'direct.img');
    writeFileSync(file, Buffer.alloc(8 << 20));
    const lock = claimBacking(file);
    symlinkSync(file, join(dir, 'direct-alias.img'));
    expect(() => claimBacking(join(dir, 'direct-alias.img'))).toThrow(/is in use by/);
    lock.release();

    const loop = spawnSync('losetup', ['-f', '--show', file], { encoding: 'utf8' });
    expect(loop.status, loop.stderr).toBe(0);
    const dev = loop.stdout.trim();
    loops.push(dev);
    const rdev = statSync(dev).rdev;
    const node = join(dir, 'other-node');
    const made = spawnSync('mknod', [node, 'b', String(Math.floor(rdev / 256) & 0xfff), String(rdev & 0xff)]);
    expect(made.status).toBe(0);
    const devLock = claimBacking(dev);
    const err = (() => {
      try {
        claimBacking(node);
      } catch (e) {
        return e as UcError;
      }
      throw new Error('a second node of a claimed block device was accepted');
    })();
    expect(err.code).toBe('UC_POOL_LOCKED');
    expect(err.message).toMatch(/a mount or another exclusive user of the device/);
    // With a live daemon's run record naming the device, the refusal names that daemon.
    const daemon = spawn('sleep', ['30']);
    await new Promise((r) => daemon.once('spawn', r));
    const runDir = join(dir, 'run');
    const savedRunDir = process.env.UBLK_COMPRESS_RUN_DIR;
    process.env.UBLK_COMPRESS_RUN_DIR = runDir;
    try {
      writeRunRecord({
        devId: 3, pid: daemon.pid as number, backing: dev, sizeBytes: 8 << 20, layout: 'direct', queues: 1, depth: 16,
        logPath: '/dev/null', startedAt: new Date().toISOString(), version: 'test',
      });
      expect(() => claimBacking(node)).toThrow(new RegExp(`is already served by /dev/ublkb3 \\(daemon pid ${daemon.pid}`));
    } finally {
      if (savedRunDir === undefined) delete process.env.UBLK_COMPRESS_RUN_DIR;
      else process.env.UBLK_COMPRESS_RUN_DIR = savedRunDir;
      daemon.kill('SIGKILL');
    }
    devLock.release();
    claimBacking(node).release(); // free again
  });
});

describe('the served inode is the locked inode', () => {
  it('a pool swapped in under the path after the lock is refused, and neither file changes', async () => {
    const pool = join(dir, 'locked.img');
    await serve(pool);
    const first = held.pop() as ClaimedPool;
    await first.opened.engine.close();
    first.lock.release();
    const decoy = join(dir, 'decoy.img');
    cpSync(pool, decoy);
    const before = digest(pool, decoy, `${pool}.meta`);
    // The swap lands between the lock and the engine's open of the path.
    const swapThenOpen: BackingOpener = (path, options) => {
      renameSync(pool, join(dir, 'locked-moved.img'));
      cpSync(decoy, pool);
      return openBackingFile(path, options);
    };
    const err = await refusal(claimPackedPool(cfgOf(pool), packedOf(pool), swapThenOpen));
    expect(err.code).toBe('UC_POOL_LOCKED');
    expect(err.message).toMatch(/was replaced after it was locked/);
    expect(digest(join(dir, 'locked-moved.img'), pool, `${pool}.meta`)).toEqual({
      [join(dir, 'locked-moved.img')]: before[pool],
      [pool]: before[decoy],
      ...Object.fromEntries(Object.entries(before).filter(([k]) => k.startsWith(`${pool}.meta`))),
    });
  });
});

describe('private pools (mode at creation)', () => {
  it('pool 0600, metadata directory 0700, metadata files 0600, even under umask 022', async () => {
    const before = process.umask(0o022);
    try {
      const pool = join(dir, 'private.img');
      const c = await serve(pool);
      await c.opened.engine.write(0, 4, Buffer.alloc(4 * 4096, 3), true);
      expect(statSync(pool).mode & 0o777).toBe(0o600);
      expect(statSync(`${pool}.meta`).mode & 0o777).toBe(0o700);
      const files = readdirSync(`${pool}.meta`);
      expect(files.length).toBeGreaterThan(2);
      for (const f of files) expect(statSync(join(`${pool}.meta`, f)).mode & 0o077, f).toBe(0);
    } finally {
      process.umask(before);
    }
  });
});

describe('a full disk at start-up', () => {
  it('exits 8 (UC_NO_SPACE) and removes only what this start created', async () => {
    const small = join(dir, 'small');
    mkdirSync(small);
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'ublk-enospc', small]).status).toBe(0);
    mounts.push(small);
    writeFileSync(join(small, 'user-file'), 'keep me');
    const fill = spawnSync('dd', ['if=/dev/zero', `of=${join(small, 'filler')}`, 'bs=4k'], { encoding: 'utf8' });
    expect(fill.stderr).toMatch(/No space left/);
    const pool = join(small, 'p.img');
    const err = await claimPackedPool(cfgOf(pool, 64 << 20), packedOf(pool)).then(() => undefined, (e: unknown) => e);
    const uc = toUserError(err, { pool });
    expect(uc.code, `${uc.message} / ${String(err)}`).toBe('UC_NO_SPACE');
    expect(exitCodeOf(err)).toBe(8);
    expect(existsSync(pool)).toBe(false);
    expect(existsSync(`${pool}.meta`)).toBe(false);
    expect(readFileSync(join(small, 'user-file'), 'utf8')).toBe('keep me');
  });
});
