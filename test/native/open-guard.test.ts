// The direct-mapped path's guard against other openers (native/open-guard):
// another process's open of the backing waits until the map is emptied, then
// proceeds; this process's own opens pass. Needs root (fanotify permission
// events); the raw I/O itself is tested in the guest (direct-fiemap-guest).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectMap } from '../../src/native/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'uc-guard-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(process.getuid?.() !== 0)('OpenGuard', () => {
  it("empties the map before another process's open returns; own opens pass", { timeout: 60_000 }, async () => {
    const path = join(dir, 'backing');
    const fd = openSync(path, 'w+');
    writeSync(fd, Buffer.alloc(1024 * 1024, 7), 0, 1024 * 1024, 0);
    const devFd = openSync('/dev/null', 'r');
    const map = new DirectMap(fd, devFd, -1);
    const seen: number[][] = [];
    const guard = map.guardOpens(path, (pids) => seen.push(pids));
    try {
      expect(map.remap()).toBe(1024 * 1024);
      // Our own open, from the threadpool (a synchronous one on this thread
      // would wait for an answer only this thread gives): allowed at once.
      expect((await readFile(path)).length).toBe(1024 * 1024);
      expect(map.stats().mappedBytes).toBe(1024 * 1024);
      // Another process: its open waits for our answer, given on this event loop.
      const child = spawn('sh', ['-c', `wc -c < '${path}'`], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += String(b)));
      const code = await new Promise<number | null>((r) => child.on('close', r));
      expect(code).toBe(0);
      expect(out.trim()).toBe(String(1024 * 1024));
      expect(seen.flat().length).toBeGreaterThanOrEqual(1);
      expect(map.stats().mappedBytes).toBe(0);
      expect(map.remap()).toBe(1024 * 1024); // only remap() maps again
    } finally {
      guard.close();
      closeSync(devFd);
      closeSync(fd);
    }
  });
});
