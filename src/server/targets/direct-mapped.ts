// The daemon's side of the direct-mapped path (docs/direct-paths.md): set it
// up when the native path has an O_DIRECT descriptor, log why not otherwise,
// and say in `stats`/`list` which path serves the device now.

import { setUpDirectMapping, type DirectMapping } from '../../direct/direct-mapping.js';
import type { DirectMap } from '../../native/index.js';
import type { Logger } from '../logger.js';
import type { BackingIo, MappingReport } from './direct-native.js';

export interface DirectMappedPath {
  /** For UblkQueue.setDirect; undefined when the file path serves everything. */
  readonly map: DirectMap | undefined;
  backingIo(fileIo: BackingIo): BackingIo;
  report(): MappingReport;
  /** An online grow: maps the added range before any request can reach it. Never throws. */
  remapRange(offsetBytes: number, lengthBytes: number): void;
  /** After every queue is closed. */
  close(): void;
}

export function startDirectMapped(
  backing: string,
  nativeFd: number | undefined,
  jsFd: number,
  log: () => Logger,
): DirectMappedPath {
  let mapping: DirectMapping | undefined;
  let reason: string | undefined;
  if (nativeFd === undefined) {
    reason = 'the backing has no O_DIRECT descriptor';
  } else {
    try {
      const result = setUpDirectMapping(backing, nativeFd, jsFd, (pids) => {
        log().warn({ pids }, 'another process opened the backing file: direct mapping ended, the file path serves from now on');
      });
      if ('reason' in result) reason = result.reason;
      else mapping = result.mapping;
    } catch (err) {
      reason = (err as Error).message; // the file path serves as before
    }
  }
  if (mapping) log().info({ device: mapping.device.path, mappedBytes: mapping.mappedBytes }, 'direct-mapped');
  else log().info({ reason }, 'no direct mapping');
  const ended = (): string | undefined => {
    const pids = mapping?.foreignOpen();
    return pids === undefined ? undefined : `the backing was opened by process ${pids.join(', ')}`;
  };
  return {
    map: mapping?.map,
    backingIo: (fileIo) => (mapping !== undefined && ended() === undefined ? 'direct-mapped' : fileIo),
    report: () => {
      if (mapping === undefined) return { reason };
      return { device: mapping.device.path, reason: ended(), map: mapping.map.stats() };
    },
    remapRange: (offsetBytes, lengthBytes) => {
      if (mapping === undefined) return;
      try {
        const mappedBytes = mapping.map.remapRange(offsetBytes, lengthBytes);
        log().info({ offsetBytes, lengthBytes, mappedBytes }, 'direct-mapped the added range');
      } catch (err) {
        log().warn({ err }, 'could not map the added range: the file path serves it'); // the map is unchanged
      }
    },
    close: () => {
      const m = mapping;
      mapping = undefined;
      m?.close();
    },
  };
}
