// DESIGN.md: layers are folders and arrows point down only. This test reads
// every source file and fails on an import that points up (or sideways where
// the design forbids it), so the layering stays a fact rather than a hope.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/** For each layer, the layers it must never import. */
const FORBIDDEN: Record<string, string[]> = {
  util: ['cli', 'device', 'direct', 'engine', 'compress', 'dedup', 'meta', 'pool', 'native'],
  native: ['cli', 'device', 'direct', 'engine', 'compress', 'dedup', 'meta', 'pool'],
  pool: ['cli', 'device', 'direct', 'engine', 'native'],
  meta: ['cli', 'device', 'direct', 'engine', 'native'],
  dedup: ['cli', 'device', 'direct', 'engine', 'native'],
  compress: ['cli', 'device', 'direct', 'engine', 'native', 'dedup', 'meta', 'pool'],
  engine: ['cli', 'device', 'direct', 'native'],
  direct: ['cli', 'device', 'engine'],
  device: ['cli', 'engine', 'direct', 'compress', 'dedup', 'meta', 'pool'],
  cli: [],
  server: [],
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
});
