// Sets up the direct-mapped path of a 1:1 device: the raw device under the
// backing file, its extent map, and the guard against other processes
// opening the file. Returns why not when any step says no; the device is then
// served through the file. See docs/direct-paths.md.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DirectMap } from '../native/index.js';
import { closeRawDevice, openRawDevice, type RawDevice } from './raw-device.js';

export interface DirectMapping {
  readonly map: DirectMap;
  readonly device: RawDevice;
  /** Bytes mapped at set-up. */
  readonly mappedBytes: number;
  /** Set once another process opened the backing: the map is empty for good. */
  foreignOpen(): number[] | undefined;
  /** Stops guarding and closes the raw device: only after every queue is closed. */
  close(): void;
}

export type DirectMappingResult = { readonly mapping: DirectMapping } | { readonly reason: string };

/** Other processes holding `path` open (their pids), from /proc/PID/fd (stat only: no open). */
export function otherOpeners(path: string, procRoot = '/proc'): number[] {
  const target = statSync(path, { bigint: true });
  const out: number[] = [];
  for (const name of readdirSync(procRoot)) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(join(procRoot, name, 'fd'));
    } catch {
      continue; // gone, or not ours to look at
    }
    for (const fd of fds) {
      try {
        const st = statSync(join(procRoot, name, 'fd', fd), { bigint: true });
        if (st.dev === target.dev && st.ino === target.ino) {
          out.push(pid);
          break;
        }
      } catch {
        // closed meanwhile
      }
    }
  }
  return out;
}

/**
 * `fileFd`: the native path's O_DIRECT descriptor of `backing` (a map is only
 * coherent with O_DIRECT file I/O beside it); `jsFd`: the JS path's buffered one. Call before the queues serve,
 * after every descriptor of the backing this process needs is open.
 */
export function setUpDirectMapping(
  backing: string,
  fileFd: number,
  jsFd: number,
  onForeignOpen: (pids: number[]) => void,
): DirectMappingResult {
  const found = openRawDevice(backing);
  if ('reason' in found) return found;
  const device = found.device;
  let guard: { close(): void } | undefined;
  let foreign: number[] | undefined;
  try {
    const map = new DirectMap(fileFd, device.fd, jsFd);
    // Guard first, then look for openers that came before it: none slips between.
    guard = map.guardOpens(backing, (pids) => {
      foreign = [...(foreign ?? []), ...pids];
      onForeignOpen(pids);
    });
    const openers = otherOpeners(backing);
    if (openers.length > 0) throw new Error(`the backing is open in process ${openers.join(', ')}`);
    const mappedBytes = map.remap();
    const held = guard;
    return {
      mapping: {
        map,
        device,
        mappedBytes,
        foreignOpen: () => foreign,
        close: () => {
          try {
            held.close();
          } finally {
            closeRawDevice(device);
          }
        },
      },
    };
  } catch (err) {
    guard?.close();
    closeRawDevice(device);
    return { reason: (err as Error).message };
  }
}
