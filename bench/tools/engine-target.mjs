#!/usr/bin/env node
// Bench fixture like bench/guest/null-target.mjs, with the packed engine as
// the target: one ublk device served by this process through src/device over
// a fresh pool (no CLI, no daemon, no logging wrapper), to tell the engine's
// cost from the daemon's around it.
//   node engine-target.mjs SIZE_MIB POOL_PATH READY_FILE   (SIGTERM: stop, delete, exit)
import { writeFileSync } from 'node:fs';
import { IoRing } from '../../dist/src/native/index.js';
import { UblkDevice } from '../../dist/src/device/index.js';
import { formatPool } from '../../dist/src/engine/index.js';
import { backingOpener } from '../../dist/src/io/index.js';

const [sizeMib, poolPath, readyFile] = process.argv.slice(2);
const sizeBytes = Number(sizeMib) * 1024 * 1024;
const ring = new IoRing({ entries: 512 });
const engine = await formatPool({ backingPath: poolPath, logicalBytes: sizeBytes, openBacking: backingOpener(ring) });
const device = await UblkDevice.create({ queues: 1, depth: 128, sizeBytes });
await device.start(engine, { ring, onError: (err, what) => process.stderr.write(`engine-target: ${what}: ${err}\n`) });
writeFileSync(readyFile, `${device.devId} ${process.pid}\n`);
process.on('SIGTERM', async () => {
  await device.stop();
  await device.delete({ timeoutMs: 10_000 }).catch(() => {});
  await engine.close();
  ring.close();
  process.exit(0);
});
