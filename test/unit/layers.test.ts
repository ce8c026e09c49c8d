// DESIGN.md: layers are folders and arrows point down only. This test reads
// every source file and fails on an import that points up (or sideways where
// the design forbids it), so the layering stays a fact rather than a hope.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/** For each layer, the layers it must never import. */
const FORBIDDEN: Record<string, string[]> = {
  util: ['cli', 'device', 'direct', 'engine', 'compress', 'dedup', 'meta', 'pool', 'native', 'testing'],
  native: ['cli', 'device', 'direct', 'engine', 'compress', 'dedup', 'meta', 'pool', 'testing'],
  pool: ['cli', 'device', 'direct', 'engine', 'native', 'meta', 'dedup', 'testing'],
  meta: ['cli', 'device', 'direct', 'engine', 'native', 'pool', 'dedup', 'testing'],
  dedup: ['cli', 'device', 'direct', 'engine', 'native', 'meta', 'pool', 'testing'],
  compress: ['cli', 'device', 'direct', 'engine', 'native', 'dedup', 'meta', 'pool', 'testing'],
  engine: ['cli', 'device', 'direct', 'native', 'testing'],
  direct: ['cli', 'device', 'engine', 'testing'],
  device: ['cli', 'engine', 'direct', 'compress', 'dedup', 'meta', 'pool', 'testing'],
  cli: ['testing'],
  // Test doubles (simulated disk, in-memory metadata): production code never imports them.
  testing: ['cli', 'server', 'device'],
};
function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (path.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Relative imports of a file, resolved to source paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)].map((m) =>
    resolve(dirname(file), m[1]).replace(/\.js$/, '.ts'),
  );
}

/** Floors whose files must not import each other in a cycle (the others join as
 * their cycles are broken: native abi/io-ring/addon, cli control-protocol/client). */
const ACYCLIC = ['util', 'compress', 'dedup', 'meta', 'pool', 'engine', 'testing'];

/** One import cycle among `files`, as a path list, or undefined. */
function findCycle(files: string[]): string[] | undefined {
  const inSet = new Set(files);
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): string[] | undefined => {
    state.set(f, 'open');
    stack.push(f);
    for (const t of importsOf(f)) {
      if (!inSet.has(t)) continue;
      if (state.get(t) === 'open') return stack.slice(stack.indexOf(t)).concat(t);
      if (state.get(t) === undefined) {
        const c = visit(t);
        if (c !== undefined) return c;
      }
    }
    stack.pop();
    state.set(f, 'done');
    return undefined;
  };
  for (const f of files) {
    if (state.get(f) !== undefined) continue;
    const c = visit(f);
    if (c !== undefined) return c;
  }
  return undefined;
}

function layerOf(file: string): string | undefined {
  const rel = relative(SRC, file);
  if (rel.startsWith('..')) return undefined;
  return rel.split('/')[0];
}

describe('layering', () => {
  it('every src/ folder is a known layer', () => {
    for (const file of sourceFiles(SRC)) {
      const layer = layerOf(file);
      expect(layer && layer in FORBIDDEN, `${relative(ROOT, file)} is in no known layer`).toBe(true);
    }
  });

  it('no import points up', () => {
    const violations: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const from = layerOf(file)!;
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)) {
        const target = layerOf(resolve(dirname(file), m[1]));
        if (target && FORBIDDEN[from]?.includes(target)) {
          violations.push(`${relative(ROOT, file)} imports ${m[1]} (${from} -> ${target})`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('no import cycle inside the lower floors', () => {
    const files = sourceFiles(SRC).filter((f) => ACYCLIC.includes(layerOf(f)!));
    const cycle = findCycle(files);
    expect(cycle?.map((f) => relative(ROOT, f)).join(' -> ')).toBeUndefined();
  });

  it('the cycle finder finds a cycle', () => {
    // core.ts and compactor.ts imported each other once; a cycle like theirs must be reported.
    const dir = mkdtempSync(join(tmpdir(), 'layers-'));
    try {
      writeFileSync(join(dir, 'a.ts'), "import { b } from './b.js';\nexport const a = b;\n");
      writeFileSync(join(dir, 'b.ts'), "import type { c } from './c.js';\nexport const b = 1;\n");
      writeFileSync(join(dir, 'c.ts'), "export { a as c } from './a.js';\n");
      const files = ['a.ts', 'b.ts', 'c.ts'].map((f) => join(dir, f));
      expect(findCycle(files)?.map((f) => f.slice(dir.length + 1))).toEqual(['a.ts', 'b.ts', 'c.ts', 'a.ts']);
      expect(findCycle(files.slice(1))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
