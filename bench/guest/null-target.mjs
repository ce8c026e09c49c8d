#!/usr/bin/env node
// Bench fixture: one ublk device served by this process through src/device
// with a null target (reads return the io buffer as is, everything else
// succeeds at once): the cost of the device layer alone, the floor for the
// 1:1 layout's main-thread CPU per request.
//
//   node null-target.mjs SIZE_MIB READY_FILE     (SIGTERM: stop, delete, exit)
import { writeFileSync } from 'node:fs';
import { IoRing } from '../../dist/src/native/index.js';
import { UblkDevice } from '../../dist/src/device/index.js';

const [sizeMib, readyFile] = process.argv.slice(2);
const sizeBytes = Number(sizeMib) * 1024 * 1024;
const done = () => Promise.resolve();
const target = { read: done, write: done, flush: done, discard: done, writeZeroes: done, close: done };
const ring = new IoRing({ entries: 256 });
const device = await UblkDevice.create({ queues: 1, depth: 128, sizeBytes });
await device.start(target, { ring, onError: (err, what) => process.stderr.write(`null: ${what}: ${err}\n`) });
writeFileSync(readyFile, `${device.devId} ${process.pid}\n`);
process.on('SIGTERM', async () => {
  await device.stop();
  await device.delete({ timeoutMs: 10_000 }).catch(() => {});
  ring.close();
  process.exit(0);
});
