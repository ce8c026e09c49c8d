// Host tests that run the CLI in child processes use the built dist/: build
// it (tsc, ~10 s) when any source file is newer than it.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const REPO = join(import.meta.dirname, '..', '..', '..');

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(p) : statSync(p).mtimeMs);
  }
  return newest;
}

export function ensureDistBuilt(): void {
  let built = 0;
  try {
    built = statSync(join(REPO, 'dist', 'src', 'cli', 'main.js')).mtimeMs;
  } catch {
    built = 0;
  }
  if (built >= newestMtimeMs(join(REPO, 'src'))) return;
  execFileSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
    cwd: REPO,
    stdio: 'inherit',
  });
}
