// One string naming every file under a directory with its sha256 (and every
// subdirectory), so a test can prove a refusal or `check` changed nothing.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export function dirDigest(d: string): string {
  return fs.readdirSync(d, { recursive: true, encoding: 'utf8' }).sort().map((name) => {
    const p = path.join(d, name);
    if (!fs.statSync(p).isFile()) return `${name}/`;
    // Reading LOCK would open and close it, which drops this process's POSIX lock on it.
    if (path.basename(name) === 'LOCK') return `${name} ${fs.statSync(p).size} bytes`;
    return `${name} ${createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`;
  }).join('\n');
}
