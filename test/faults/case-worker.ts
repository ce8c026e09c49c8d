// Child process that runs fault cases for the campaign (fault-campaign.test.ts).
// A damaged LevelDB table can abort the whole process from native code; running
// cases here lets the suite record that as a failure and carry on with a new worker.
// Protocol (advanced serialization): parent sends { context } once, then
// { run: FaultCase, dir }; the worker answers { index, phase } before each step and
// { index, result } at the end of a case.
import type { FaultCase } from './fault-plan.js';
import { runCase, type CaseContext } from './run-case.js';

let context: CaseContext | undefined;

/** Structured clone turns Buffers into Uint8Arrays. */
const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

process.on('message', (m: { context?: CaseContext; run?: FaultCase; dir?: string }) => {
  if (m.context !== undefined) {
    const p = m.context.pristine;
    context = { ...m.context, pristine: { ...p, expected: p.expected.map(asBuffer) } };
    return;
  }
  if (m.run === undefined || m.dir === undefined || context === undefined) throw new Error('case worker: bad message');
  const c = m.run;
  runCase(context, c, m.dir, (phase) => process.send?.({ index: c.index, phase })).then(
    (result) => process.send?.({ index: c.index, result }),
    (err: unknown) => process.send?.({ index: c.index, result: { outcome: 'FAILED', eioBlocks: 0, checkExit: -1, failures: [`[harness-error] harness error: ${String(err)}`] } }),
  );
});
