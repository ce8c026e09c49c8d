// `npm run bench -- --quick` end to end in the QEMU guest (natively where the
// host has ublk_drv): all six devices (ublk-compress packed and 1:1, zram,
// dm-vdo, loop, brd) in one boot, two interleaved speed rounds (the first
// also gives the speed cell of the fio matrix its space), then the real tree
// (ext4, copies, fstrim) on each. Checks report.json against its schema (every device
// has every figure, no empty cells), that README.md links every chart and
// every SVG is well-formed XML. It asserts no speeds. Much longer than on a
// quiet machine when other guests share the cores.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateReport } from '../../bench/suite/schema.js';
import { DEVICES } from '../../bench/suite/model.js';
import { GUEST_PREPARE_TIMEOUT_MS, guestRequired, REPO_ROOT, skipGuest } from './support/guest.js';

// The guest is bounded at BENCH_QUICK_TIMEOUT_S (default 1800 s, for a loaded 2-core
// machine).
const GUEST_TIMEOUT_S = Number(process.env.BENCH_QUICK_TIMEOUT_S ?? 1800);
const TIMEOUT_MS = (GUEST_TIMEOUT_S + 120) * 1000;

/** Well-formed XML, the subset SVG uses: balanced tags, quoted attributes, known entities. */
export function xmlProblems(text: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g;
  let at = 0;
  for (let m = tag.exec(text); m !== null; m = tag.exec(text)) {
    const between = text.slice(at, m.index);
    if (/[<>]/.test(between)) problems.push(`stray markup near offset ${at}`);
    if (/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(between)) problems.push(`bad entity near offset ${at}`);
    at = m.index + m[0].length;
    if (m[2] === undefined) continue;
    if (m[1] === '/') {
      if (stack.pop() !== m[2]) problems.push(`unbalanced </${m[2]}>`);
    } else if (m[4] !== '/') stack.push(m[2]);
  }
  if (/[<>]/.test(text.slice(at))) problems.push('stray markup at the end');
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(', ')}`);
  if (!/^\s*<svg[\s>]/.test(text)) problems.push('does not start with <svg>');
  return problems;
}

function runBench(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/bench/main.js'), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += String(b)));
    child.stderr.on('data', (b: Buffer) => (output += String(b)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

describe('xmlProblems', () => {
  it('accepts well-formed SVG and rejects broken markup', () => {
    expect(xmlProblems('<svg a="1"><g><text>a &amp; b</text></g><rect/></svg>')).toEqual([]);
    expect(xmlProblems('<svg><g></svg>').length).toBeGreaterThan(0);
    expect(xmlProblems('<svg><text>a & b</text></svg>').length).toBeGreaterThan(0);
  });
});

describe.skipIf(skipGuest)('bench --quick guest smoke run', () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-quick-'));
  beforeAll(() => guestRequired(), GUEST_PREPARE_TIMEOUT_MS);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('writes a whole report.json, a README linking every chart, and SVGs that parse', async () => {
    const r = await runBench(['--quick', '--out', out, '--timeout-s', String(GUEST_TIMEOUT_S)]);
    expect(r.code, r.output.slice(-6000)).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Record<string, unknown>;
    expect(validateReport(report)).toEqual([]);
    expect(report.devices).toEqual([...DEVICES]);
    expect(report.datasets).toEqual(['fio-d45c60', 'tree', 'tree-deleted-trimmed']);
    const svgs = readdirSync(out).filter((f) => f.endsWith('.svg'));
    expect(svgs.length).toBeGreaterThanOrEqual(6);
    const readme = readFileSync(join(out, 'README.md'), 'utf8');
    for (const svg of svgs) {
      expect(xmlProblems(readFileSync(join(out, svg), 'utf8')), svg).toEqual([]);
      expect(readme).toContain(`(${svg})`);
    }
    expect(readme).toMatch(/## How to read this/);
    expect(readme).not.toMatch(/\bNaN\b|undefined/);
  }, TIMEOUT_MS);
});
