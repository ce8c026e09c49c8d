// docs/design.md, "Floors": layers are folders and arrows point down only. This test reads
// every source file and fails on an import that points up (or sideways where
// the design forbids it), and on any import cycle between modules, so the
// layering stays a fact rather than a hope.
//
// The floors, top to bottom:
//   cli      argument parsing, help, commands, spawning the daemon, the
//            control client, rendering; the only place errors become exit
//            statuses. May import everything below, server included: the
//            command that starts the daemon runs the server's lifecycle, and
//            reads what the server writes (run records, logs, the control
//            protocol). The server never imports the cli.
//   server   the serving process: one lifecycle, ready channel, run records,
//            logs, control socket, and the wiring of each layout (targets/).
//   device   ublk control and queue dispatch; the single control entry.
//   engine   the packed store (over compress, dedup, meta, pool).
//   direct   the 1:1 target.
//   meta, pool, compress, dedup: the engine's parts; none imports another
//            sideways (pool owns segment states, meta takes sizes from util).
//   native, util at the bottom.
//   testing  test doubles (simulated disk, in-memory metadata); nothing in
//            src/ imports them.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/** For each layer, the layers it must never import. */
const FORBIDDEN: Record<string, string[]> = {
  util: ['cli', 'server', 'device', 'direct', 'engine', 'compress', 'dedup', 'meta', 'pool', 'native', 'io', 'testing'],
  native: ['cli', 'server', 'device', 'direct', 'engine', 'compress', 'dedup', 'meta', 'pool', 'io', 'testing'],
  // The backing-file layer: the ring (native) and util only.
  io: ['cli', 'server', 'device', 'direct', 'engine', 'compress', 'dedup', 'meta', 'pool', 'testing'],
  pool: ['cli', 'server', 'device', 'direct', 'engine', 'native', 'meta', 'dedup', 'testing'],
  meta: ['cli', 'server', 'device', 'direct', 'engine', 'native', 'pool', 'dedup', 'io', 'testing'],
  dedup: ['cli', 'server', 'device', 'direct', 'engine', 'native', 'meta', 'pool', 'io', 'testing'],
  // compress -> native: the batch codec (liblz4 + xxHash in the addon) needs no kernel device.
  compress: ['cli', 'server', 'device', 'direct', 'engine', 'dedup', 'meta', 'pool', 'io', 'testing'],
  // The engine opens pools through io; it never drives the ring itself.
  engine: ['cli', 'server', 'device', 'direct', 'native', 'testing'],
  direct: ['cli', 'server', 'device', 'engine', 'testing'],
  device: ['cli', 'server', 'engine', 'direct', 'compress', 'dedup', 'meta', 'pool', 'io', 'testing'],
  server: ['cli', 'testing'],
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

function layerOf(file: string): string | undefined {
  const rel = relative(SRC, file);
  if (rel.startsWith('..')) return undefined;
  return rel.split('/')[0];
}

/** Relative import specifiers of a file (static, dynamic, `import type` and re-exports). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)].map((m) => m[1]);
}

/** The module graph of src/: file -> the src/ files it imports. */
function moduleGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const targets = importsOf(file)
      .map((spec) => resolve(dirname(file), spec).replace(/\.js$/, '.ts'))
      .filter((target) => layerOf(target) !== undefined);
    graph.set(file, targets);
  }
  return graph;
}

/** Strongly connected components with more than one module, or a module importing itself (Tarjan). */
function cyclesOf(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(component);
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
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
      for (const spec of importsOf(file)) {
        const target = layerOf(resolve(dirname(file), spec));
        if (target && FORBIDDEN[from]?.includes(target)) {
          violations.push(`${relative(ROOT, file)} imports ${spec} (${from} -> ${target})`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('no import cycle between modules', () => {
    const found = cyclesOf(moduleGraph()).map((c) => c.map((f) => relative(SRC, f)).sort().join(' '));
    expect(found, 'import cycles').toEqual([]);
  });

  it('the cycle check finds a cycle', () => {
    const a = join(SRC, 'x/a.ts');
    const b = join(SRC, 'x/b.ts');
    const c = join(SRC, 'x/c.ts');
    const graph = new Map([[a, [b]], [b, [c]], [c, [a]]]);
    expect(cyclesOf(graph).map((cycle) => cycle.length)).toEqual([3]);
    expect(cyclesOf(new Map([[a, [b]], [b, []]]))).toEqual([]);
  });
});
