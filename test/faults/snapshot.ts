// Every file under a directory with its sha256 (directories listed too), so a
// case can prove that a refusal or `check` left every byte and name as it was.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export type Snapshot = Map<string, string>;

export function snapshotTree(root: string): Snapshot {
  const out: Snapshot = new Map();
  const walk = (rel: string): void => {
    const abs = path.join(root, rel);
    const st = fs.lstatSync(abs);
    if (st.isDirectory()) {
      out.set(`${rel}/`, 'dir');
      for (const name of fs.readdirSync(abs).sort()) walk(rel === '' ? name : `${rel}/${name}`);
    } else if (st.isFile()) {
      out.set(rel, createHash('sha256').update(fs.readFileSync(abs)).digest('hex'));
    } else {
      out.set(rel, `other:${st.mode}`);
    }
  };
  walk('');
  return out;
}

/** Names of the files that appeared, vanished or changed between two snapshots. */
export function snapshotDiff(before: Snapshot, after: Snapshot): string[] {
  const diff: string[] = [];
  for (const [k, v] of before) {
    const w = after.get(k);
    if (w === undefined) diff.push(`-${k}`);
    else if (w !== v) diff.push(`~${k}`);
  }
  for (const k of after.keys()) if (!before.has(k)) diff.push(`+${k}`);
  return diff;
}
