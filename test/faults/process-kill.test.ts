// A killed process loses no write that completed (docs/packed.md, "What a
// daemon crash loses"): a child writes to a real pool (file + LevelDB), never
// flushing, prints each write as it completes, and is killed with SIGKILL at
// an unplanned moment. The kernel and its page cache live on, as they do when
// a ublk server dies. Reopened, every printed write must read back exactly:
// the write journal replays what the group commit had not written yet, and
// `check` beforehand counts exactly the records that replay.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openPool } from '../../src/engine/index.js';
import { checkPool } from '../../src/engine/check.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WRITER = path.join(HERE, 'fixtures/journal-writer.mjs');
const BLOCK = 4096;
const ROUNDS = 3;

function blockOf(i: number): Buffer {
  const b = Buffer.alloc(BLOCK);
  for (let o = 0; o < BLOCK / 2; o += 8) b.writeDoubleLE(i * 1000 + o, o);
  return b;
}

/** Runs the writer until it has completed `killAfter` writes (plus whatever it does
 * before the signal lands), SIGKILLs it, and returns the writes it reported done. */
function writeThenKill(pool: string, format: boolean, first: number, killAfter: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, pool, format ? '1' : '0', String(first), '100000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const done: number[] = [];
    let buffered = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const l of lines) if (/^\d+$/.test(l)) done.push(Number(l));
      if (done.length >= killAfter && !child.killed) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(done);
      else reject(new Error(`writer exited ${code ?? signal}: ${stderr}`));
    });
  });
}

describe('process kill with the write journal', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uc-kill-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads back every write that completed before SIGKILL, round after round', async () => {
    const pool = path.join(dir, 'pool.img');
    const expected = new Map<number, Buffer>();
    let next = 1;
    let replayed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const done = await writeThenKill(pool, round === 0, next, 150 + round * 70);
      expect(done.length).toBeGreaterThan(0);
      for (const i of done) {
        const lba = (i * 4) % 16384;
        [blockOf(i), blockOf(i + 0.5), blockOf(i - 1), blockOf(i - 1 + 0.5)].forEach((b, k) => expected.set(lba + k, b));
        if (i % 97 === 0) for (let k = 0; k < 4; k++) expected.set(((i * 4) + 8 + k) % 16384, Buffer.alloc(BLOCK));
      }
      next = done[done.length - 1] + 1;
      // check, offline, sees the state before the replay: consistent, and exactly the records open replays.
      const checked = await checkPool({ backingPath: pool });
      expect(checked.problems).toEqual([]);
      const engine = await openPool({ backingPath: pool });
      expect(checked.pendingJournal.records, `round ${round}: records check saw pending`).toBe(engine.replayed.records);
      replayed += engine.replayed.records;
      const out = Buffer.alloc(BLOCK);
      for (const [lba, want] of expected) {
        await engine.read(lba, 1, out);
        expect(out.equals(want), `round ${round}: lba ${lba} after SIGKILL`).toBe(true);
      }
      await engine.close();
    }
    // Without any flush, the writes live in the journal until a commit: some must have been replayed.
    expect(replayed, 'journal records replayed across the rounds').toBeGreaterThan(0);
  }, 120_000);
});
