// Stable device names: /dev/ublk-compress/NAME -> /dev/ublkbN, so fstab and
// scripts never depend on the kernel's numbering. The serving daemon owns the
// link (made once the device is live, removed when it stops, replaced
// atomically). It also leaves a tag, RUN_DIR/names/ublkbN holding NAME,
// written before the disk appears, which the shipped udev rule
// (packaging/90-ublk-compress.rules) reads to make the same link itself.

import { mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runDir } from './paths.js';
import { UcError } from '../util/errors.js';

/** Names become unit instances and /dev/ublk-compress/NAME: keep them plain. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function validateDeviceName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new UcError(
      'UC_INVALID_ARGUMENT',
      `bad device name '${name}': use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );
  }
  return name;
}

/** /dev/ublk-compress, or $UBLK_COMPRESS_NAME_DIR (tests). */
export function nameDir(): string {
  return resolve(process.env.UBLK_COMPRESS_NAME_DIR || '/dev/ublk-compress');
}

export function stableNamePath(name: string): string {
  return join(nameDir(), validateDeviceName(name));
}

/** Where the link points, or undefined when there is none. */
export function readStableName(name: string): string | undefined {
  try {
    return readlinkSync(stableNamePath(name));
  } catch {
    return undefined;
  }
}

/** Points NAME at `target`, replacing any older link in one rename. */
export function linkStableName(name: string, target: string): string {
  const path = stableNamePath(name);
  mkdirSync(nameDir(), { recursive: true, mode: 0o755 });
  const tmp = `${path}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  symlinkSync(target, tmp);
  renameSync(tmp, path);
  return path;
}

/** Removes NAME only while it still points at `target` (never a successor's link). */
export function unlinkStableName(name: string, target: string): boolean {
  if (readStableName(name) !== target) return false;
  try {
    unlinkSync(stableNamePath(name));
    return true;
  } catch {
    return false;
  }
}

export function nameTagPath(devId: number): string {
  return join(runDir(), 'names', `ublkb${devId}`);
}

export function writeNameTag(devId: number, name: string): void {
  mkdirSync(join(runDir(), 'names'), { recursive: true, mode: 0o755 });
  writeFileSync(nameTagPath(devId), `${validateDeviceName(name)}\n`, { mode: 0o644 });
}

export function readNameTag(devId: number): string | undefined {
  try {
    return readFileSync(nameTagPath(devId), 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function removeNameTag(devId: number): void {
  rmSync(nameTagPath(devId), { force: true });
}
