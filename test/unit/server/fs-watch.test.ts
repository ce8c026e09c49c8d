// Pool filesystem fullness warnings: once per level on the way up, re-armed
// below the level, and a real statfs of a real directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { FullnessAlarm, statfsUsage, usedPercent, watchPoolFilesystem, type FsUsage } from '../../../src/server/fs-watch.js';

const dir = mkdtempSync(join(tmpdir(), 'uc-fswatch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({}, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

describe('FullnessAlarm', () => {
  it('reports each level once while rising, the highest when several are passed at once', () => {
    const a = new FullnessAlarm();
    expect([50, 79.9, 80, 85, 89, 96, 97].map((p) => a.update(p))).toEqual([undefined, undefined, 80, undefined, undefined, 95, undefined]);
    // 96 passed 90 and 95 together: 90 is not reported later either.
    expect(a.update(91)).toBeUndefined();
  });

  it('re-arms a level once usage falls two points below it', () => {
    const a = new FullnessAlarm();
    expect(a.update(81)).toBe(80);
    expect(a.update(79)).toBeUndefined(); // within the margin: still disarmed
    expect(a.update(81)).toBeUndefined();
    expect(a.update(77.9)).toBeUndefined(); // re-armed
    expect(a.update(80)).toBe(80);
  });
});

describe('watchPoolFilesystem', () => {
  it('warns at once and on later checks, with the figures', async () => {
    const { log, lines } = capture();
    let usage: FsUsage = { sizeBytes: 1000, availBytes: 150 };
    const stop = watchPoolFilesystem(dir, log, 20, () => usage);
    try {
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: 40, dir, usedPercent: 85, availBytes: 150, threshold: 80 });
      expect(String(lines[0].msg)).toMatch(/over 80% full/);
      usage = { sizeBytes: 1000, availBytes: 40 };
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(lines.map((l) => l.threshold)).toEqual([80, 95]);
    } finally {
      stop();
    }
  });

  it('reads a real filesystem', () => {
    const u = statfsUsage(dir);
    expect(u.sizeBytes).toBeGreaterThan(0);
    expect(u.availBytes).toBeLessThanOrEqual(u.sizeBytes);
    const p = usedPercent(u);
    expect(p).toBeGreaterThanOrEqual(0);
    expect(p).toBeLessThanOrEqual(100);
  });
});
