// Where the benchmark keeps its cache and its report, found from this module's
// own location so it works from bench/*.ts (vitest) and dist/bench/*.js alike.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/** The repository root: the nearest folder above us whose package.json is ours. */
export function repoRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 8; depth += 1) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string };
      if (pkg.name === 'ublk-compress') {
        cachedRoot = dir;
        return dir;
      }
    }
    dir = dirname(dir);
  }
  throw new Error('cannot find the ublk-compress repository root above ' + import.meta.url);
}

export function benchCacheDir(): string {
  return join(repoRoot(), '.cache', 'bench');
}

export function benchReportDir(): string {
  return join(repoRoot(), 'bench', 'report');
}
