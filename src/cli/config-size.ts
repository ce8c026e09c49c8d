// After `resize` grows a device that `up NAME` started, NAME.conf's `size`
// line still says the old size: `up` would then ask for a smaller device
// than the one the file system now fills (a packed pool refuses to shrink; a
// 1:1 device on a larger backing file would come up short). So resize
// rewrites that one line, keeping every other byte of the file, and only
// ever upwards.

import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { configPath, parseDeviceConfig } from './device-config.js';
import { ENOENT, errnoOf } from '../util/errno.js';
import { UcError } from '../util/errors.js';
import { parseSize } from '../util/units.js';

/** What `recordGrownSize` did to NAME.conf. */
export type ConfigSizeUpdate =
  | { readonly kind: 'updated'; readonly file: string; readonly value: string }
  /** No NAME.conf, no `size` line (the existing pool or file sets it), or already as large. */
  | { readonly kind: 'unchanged'; readonly file: string; readonly why: string };

/** "2G" when whole GiB, else "1536M", else "K": as a person would write it. */
export function sizeText(bytes: number): string {
  for (const [suffix, unit] of [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (bytes % unit === 0) return `${bytes / unit}${suffix}`;
  }
  return String(bytes);
}

const SIZE_LINE = /^(\s*size\s*=\s*)(\S.*?)(\s*)$/;

/**
 * Raises the `size` line of DIR/NAME.conf to `sizeBytes` when it is smaller.
 * The new text is parsed as `up` would before it replaces the file
 * (temp file + rename, same mode), so a write never leaves a config `up`
 * rejects. Throws UcError UC_IO when the file cannot be read or written.
 */
export function recordGrownSize(dir: string, name: string, sizeBytes: number): ConfigSizeUpdate {
  const file = configPath(dir, name);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoOf(err) === ENOENT) return { kind: 'unchanged', file, why: 'no such file' };
    throw new UcError('UC_IO', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  const lines = text.split('\n');
  const at = lines.findIndex((l) => SIZE_LINE.test(l) && !l.trim().startsWith('#'));
  if (at === -1) return { kind: 'unchanged', file, why: "no 'size' line" };
  const [, head, value, tail] = SIZE_LINE.exec(lines[at]) as RegExpExecArray;
  if (parseSize(value) >= sizeBytes) {
    return { kind: 'unchanged', file, why: `'size = ${value}' is not smaller` };
  }
  const newValue = sizeText(sizeBytes);
  lines[at] = `${head}${newValue}${tail}`;
  const updated = lines.join('\n');
  parseDeviceConfig(name, updated, file);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, updated, { mode: statSync(file).mode & 0o7777 });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new UcError('UC_IO', `cannot update ${file}: ${(err as Error).message}`, { cause: err });
  }
  return { kind: 'updated', file, value: newValue };
}
