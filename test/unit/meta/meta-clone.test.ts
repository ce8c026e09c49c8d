// Metadata clones (meta-clone.ts): a clone left by a process that died (SIGKILL
// during an open's validation or a `check`) is swept at the next clone of the
// same directory; a clone of a live process is left alone.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LevelMetaStore } from '../../../src/meta/level-store.js';
import { withMetaClone } from '../../../src/meta/meta-clone.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'uc-metaclone-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A pid that surely names no process: one that has just exited. */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(String(r.stdout).trim());
}

describe('stale metadata clones', () => {
  it('are removed when their process is gone; a live process keeps its own', async () => {
    const meta = path.join(root, 'p.img.meta');
    const store = await LevelMetaStore.open(meta, { create: true });
    await store.batch([{ type: 'put', key: Buffer.from('k'), value: Buffer.from('v') }], true);
    await store.close();
    const stale = path.join(root, `.p.img.meta.clone-${deadPid()}-AbC123`);
    const live = path.join(root, `.p.img.meta.clone-${process.pid}-XyZ789`);
    const unrelated = path.join(root, '.other.meta.clone-1-Q');
    for (const d of [stale, live, unrelated]) {
      fs.mkdirSync(d);
      fs.writeFileSync(path.join(d, '000005.ldb'), 'table bytes a hard link would pin');
    }
    const seen = await withMetaClone(meta, async (m) => m.getSync(Buffer.from('k'))?.toString());
    expect(seen).toBe('v');
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    expect(fs.existsSync(unrelated)).toBe(true);
    // The clone this call made is gone too: only the two left alone remain.
    expect(fs.readdirSync(root).filter((n) => n.includes('.clone-')).sort()).toEqual(
      [path.basename(unrelated), path.basename(live)].sort(),
    );
  });
});
