// Copies a directory tree that a running engine may still be changing (its
// write journal is truncated in the background after each commit). Not
// fs.cpSync: libuv's copyfile sends the size fstat reported and spins forever
// when the source shrinks under it. Reading each file whole copies whatever it
// holds at that moment, which is what a crash image or an alias test wants.
import fs from 'node:fs';
import path from 'node:path';

/** Copies `from` to `to` (created), skipping entries whose base name `skip` returns true for. */
export function copyLiveTree(from: string, to: string, skip: (name: string) => boolean = () => false): void {
  fs.mkdirSync(to, { recursive: true, mode: fs.statSync(from).mode & 0o7777 });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (skip(entry.name)) continue;
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyLiveTree(src, dst, skip);
    else if (entry.isFile()) fs.writeFileSync(dst, fs.readFileSync(src), { mode: fs.statSync(src).mode & 0o7777 });
  }
}
