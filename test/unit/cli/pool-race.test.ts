// Item 8 and 9 of issue 7 on the host (no ublk needed): 20 racing pairs of
// `add` on one new pool, each contender a separate process running the
// daemon's real pool start-up (preflight, lock probe, claimPackedPool) up to
// the point where ublk would be needed. Exactly one serves; the other refuses
// with UC_POOL_LOCKED (exit 7) naming the winner; the pool survives intact.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPool } from '../../../src/engine/index.js';
import { writeRunRecord } from '../../../src/server/run-file.js';
import { ensureDistBuilt } from './support-dist.js';

const PAIRS = 20;
const POOL_BYTES = 64 << 20;
const FIXTURE = join(import.meta.dirname, 'fixtures', 'claim-pool.mjs');

let dir: string;
const prevRunDir = process.env.UBLK_COMPRESS_RUN_DIR;
beforeAll(() => {
  ensureDistBuilt();
  dir = mkdtempSync(join(tmpdir(), 'pool-race-'));
  process.env.UBLK_COMPRESS_RUN_DIR = join(dir, 'run');
}, 120_000);
afterAll(() => {
  if (prevRunDir === undefined) delete process.env.UBLK_COMPRESS_RUN_DIR;
  else process.env.UBLK_COMPRESS_RUN_DIR = prevRunDir;
  rmSync(dir, { recursive: true, force: true });
});

interface Msg {
  type: string;
  pid?: number;
  code?: string;
  message?: string;
  exit?: number;
}

class Contender {
  readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  readonly exited: Promise<number | null>;

  constructor(pool: string) {
    this.child = spawn(process.execPath, [FIXTURE, pool, String(POOL_BYTES)], {
      env: { ...process.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
    let stderr = '';
    this.child.stderr.on('data', (c) => (stderr += String(c)));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        if (code !== 0 && code !== 7) process.stderr.write(`contender ${this.child.pid}: ${stderr}`);
        resolve(code);
      }),
    );
  }

  async next(): Promise<Msg> {
    const r = await this.lines.next();
    if (r.done) throw new Error(`contender ${this.child.pid} ended without a message`);
    return JSON.parse(r.value) as Msg;
  }
}

async function racePair(pool: string, withRecords: boolean): Promise<void> {
  const pair = [new Contender(pool), new Contender(pool)];
  for (const c of pair) expect((await c.next()).type).toBe('ready');
  if (withRecords) {
    pair.forEach((c, i) =>
      writeRunRecord({
        devId: 70 + i, pid: c.child.pid as number, backing: pool, sizeBytes: POOL_BYTES, layout: 'packed',
        queues: 1, depth: 16, logPath: '/dev/null', startedAt: new Date().toISOString(), version: 'test',
      }),
    );
  }
  for (const c of pair) c.child.stdin.write('go\n'); // both start together
  const outcomes = await Promise.all(pair.map((c) => c.next()));
  const served = outcomes.filter((o) => o.type === 'served');
  const refused = outcomes.filter((o) => o.type === 'refused');
  expect(served, JSON.stringify(outcomes)).toHaveLength(1);
  expect(refused).toHaveLength(1);
  const winner = served[0].pid as number;
  expect(refused[0]).toMatchObject({ code: 'UC_POOL_LOCKED', exit: 7 });
  expect(refused[0].message).toMatch(/nothing was changed/);
  // The refusal names the holder: by its run record, else by /proc/locks.
  const devId = 70 + pair.findIndex((c) => c.child.pid === winner);
  expect(refused[0].message).toContain(
    withRecords ? `is already served by /dev/ublkb${devId} (daemon pid ${winner}` : `is in use by pid ${winner}`,
  );
  // The loser exits while the winner still holds the pool: it must still be there.
  expect(statSync(pool).isFile()).toBe(true);
  for (const c of pair) c.child.stdin.end();
  const codes = await Promise.all(pair.map((c) => c.exited));
  expect(codes.sort()).toEqual([0, 7]);

  // Intact: the pool and its metadata open, and block 0 is the winner's FUA write.
  const engine = await openPool({ backingPath: pool });
  const block = Buffer.alloc(4096);
  await engine.read(0, 1, block);
  await engine.close();
  expect(block.toString('latin1', 0, 40)).toContain(`served by ${winner}\n`);
  expect(readdirSync(dir).filter((n) => n.endsWith('.new'))).toEqual([]); // no temp file left
  rmSync(join(dir, 'run'), { recursive: true, force: true });
}

describe('racing adds on one new pool (separate processes, the daemon pool start-up)', () => {
  it(`${PAIRS} pairs: exactly one serves, the other refuses with UC_POOL_LOCKED, the pool is intact`, async () => {
    const started = Date.now();
    for (let i = 0; i < PAIRS; i += 1) {
      await racePair(join(dir, `pool-${i}.img`), i % 2 === 0);
    }
    process.stderr.write(`pool-race: ${PAIRS} pairs in ${Date.now() - started} ms\n`);
  }, 300_000);
});
