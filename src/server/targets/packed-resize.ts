// Online grow of a served packed device (`resize -n ID --size S`, over the
// control socket; docs/kernels.md). The pool grows first and durably (the
// engine extends the file, rewrites the superblock and commits), so a crash
// after that step leaves a bigger pool that the next `add` serves at the new
// size; then the queues accept the new range and UPDATE_SIZE tells the kernel.
// A pool never shrinks. Kernels without UBLK_F_UPDATE_SIZE (before 6.16) get
// the offline path in the refusal.

import type { BlockEngine } from '../../engine/index.js';
import type { ResizeResult } from '../control-protocol.js';
import type { Logger } from '../logger.js';
import { recordGrown, requireLiveGrow, sameSizeOrGrowing, type GrowableDevice } from './grow-checks.js';

export type { GrowableDevice };

export interface GrowParts {
  readonly engine: BlockEngine;
  readonly device: GrowableDevice;
  readonly poolPath: string;
  readonly log: Logger;
}

/** Grows the pool, then the device; the run record follows. Call serialized with compaction. */
export async function growPackedOnline(p: GrowParts, sizeBytes: number): Promise<ResizeResult> {
  const fromBytes = p.engine.logicalBytes;
  const result = { fromBytes, toBytes: sizeBytes };
  if (sameSizeOrGrowing(p.device, fromBytes, sizeBytes, 'a pool never shrinks')) return result;
  requireLiveGrow(p.device, `--backing ${p.poolPath} --size ${sizeBytes}`);
  await p.engine.resize(sizeBytes);
  await p.device.grow(sizeBytes);
  recordGrown(p.device, fromBytes, sizeBytes, p.log);
  return result;
}
