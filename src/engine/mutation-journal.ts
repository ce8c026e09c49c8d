// A mutation's side of the write journal (write-journal.ts): room for its
// record before it is applied, and the record right after, under the engine
// mutex (BlockEngine). An engine without a journal records nothing.
import { UcError } from '../util/errors.js';
import type { EngineCore } from './core.js';

/** Whether the write journal (if any) takes a record of `payloadBytes` now. */
export function journalFits(core: EngineCore, payloadBytes: number): boolean {
  return core.journal?.fits(payloadBytes) ?? true;
}

/** [mutex] Makes room in the write journal for a record of `payloadBytes`: a
 * durable commit covers every record, so the files can be emptied. */
export async function journalRoom(core: EngineCore, payloadBytes: number): Promise<void> {
  const j = core.journal;
  if (j === undefined || j.fits(payloadBytes)) return;
  await core.commit(true);
  await j.reclaimActive();
  if (!j.fits(payloadBytes)) {
    throw new UcError('UC_IO', `write journal cannot take a record of ${payloadBytes} bytes (largest ${j.payloadBytesMax})`);
  }
}

/** [mutex, right after the mutation was applied] Appends it to the write journal;
 * the promise settles when the mutation may complete. */
export function recordMutation(
  core: EngineCore, kind: 'write' | 'unmap', lba: number, blocks: number, data?: Buffer, dataHash?: Buffer,
): Promise<void> {
  const p = core.journal?.append(kind, lba, blocks, data, dataHash) ?? Promise.resolve();
  // Awaited by the caller unless the mutation failed later: never an unhandled rejection.
  p.catch(() => undefined);
  return p;
}
