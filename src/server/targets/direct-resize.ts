// Online grow of a served 1:1 device (`resize -n ID --size S`, over the
// control socket; docs/kernels.md, "Online grow"). The order keeps a crash
// harmless: the backing file grows first and durably (ftruncate, with
// --preallocate the added range written with zeros, then fdatasync), so a
// crash afterwards leaves a bigger file that the next `add` serves at the new
// size; then the direct mapping learns the added range's extents (before any
// request can reach it), the JS target and the native path accept the new
// size, and UPDATE_SIZE tells the kernel. A block device backing cannot grow:
// a size beyond it is refused. A device never shrinks.

import type { UblkDevice } from '../../device/index.js';
import { zeroFillUnwritten } from '../../direct/preallocate.js';
import { ioError } from '../../io/errors.js';
import type { BackingFile } from '../../io/index.js';
import { ENOSPC, errnoOf } from '../../util/errno.js';
import { UcError } from '../../util/errors.js';
import { formatBytes } from '../../util/units.js';
import type { ResizeResult } from '../control-protocol.js';
import type { Logger } from '../logger.js';
import { recordGrown, requireLiveGrow, sameSizeOrGrowing, type GrowableDevice } from './grow-checks.js';

/** The backing as the grow sees it: the daemon's open descriptor, never a new open. */
export type GrowableFile = Pick<BackingFile, 'path' | 'fd' | 'isBlockDevice' | 'sizeBytes' | 'grow' | 'fdatasync'>;

export interface DirectGrowParts {
  readonly device: GrowableDevice & Pick<UblkDevice, 'sizeBytes'>;
  readonly file: GrowableFile;
  /** `add --preallocate`: the added range is written with zeros too, so it maps. */
  readonly preallocate: boolean;
  /** The direct-mapped path maps what FIEMAP proves in the added range (absent: no mapping). */
  readonly remapRange?: (offsetBytes: number, lengthBytes: number) => void;
  /** The JS target and the native request path accept requests up to the new size. */
  readonly accept: (sizeBytes: number) => void;
  readonly log: Logger;
}

function refuseBeyondDevice(file: GrowableFile, sizeBytes: number): void {
  if (!file.isBlockDevice || sizeBytes <= file.sizeBytes) return;
  throw new UcError(
    'UC_INVALID_ARGUMENT',
    `--size ${formatBytes(sizeBytes)} is larger than the block device ${file.path} (${formatBytes(file.sizeBytes)})`,
  );
}

/**
 * ftruncate (a file smaller than the new size), zeros with --preallocate, and
 * fdatasync: durable. A failure (a full filesystem: UC_NO_SPACE) leaves the
 * kernel's size as it was; the file may be larger, its added range reading zeros.
 */
async function growBacking(p: DirectGrowParts, fromBytes: number, sizeBytes: number): Promise<void> {
  const { file } = p;
  if (file.isBlockDevice) return;
  try {
    await file.grow(sizeBytes);
    if (p.preallocate) {
      const bytes = await zeroFillUnwritten(file.fd, fromBytes, sizeBytes);
      p.log.info({ bytes }, 'preallocated the added range');
    } else {
      await file.fdatasync();
    }
  } catch (err) {
    const what = `cannot grow ${file.path} to ${formatBytes(sizeBytes)}`;
    if (errnoOf(err) !== ENOSPC) throw ioError(what, err);
    throw new UcError('UC_NO_SPACE', `${what}: its filesystem is full`, { cause: err, errno: ENOSPC });
  }
}

/** Grows the backing, then the device; the run record follows. Call one at a time. */
export async function growDirectOnline(p: DirectGrowParts, sizeBytes: number): Promise<ResizeResult> {
  const { device } = p;
  const fromBytes = device.sizeBytes;
  const result = { fromBytes, toBytes: sizeBytes };
  if (sameSizeOrGrowing(device, fromBytes, sizeBytes, 'a device never shrinks')) return result;
  refuseBeyondDevice(p.file, sizeBytes);
  requireLiveGrow(device, `--layout direct --backing ${p.file.path} --size ${sizeBytes}`);
  await growBacking(p, fromBytes, sizeBytes);
  p.remapRange?.(fromBytes, sizeBytes - fromBytes);
  p.accept(sizeBytes);
  await device.grow(sizeBytes);
  recordGrown(device, fromBytes, sizeBytes, p.log);
  return result;
}
