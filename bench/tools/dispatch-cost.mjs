#!/usr/bin/env node
// The device layer's own JS cost per request, on the host, without ublk: the
// QueueDispatcher and the daemon's logging wrapper (loggedTarget, with its
// latency histograms) drive a target that completes at once, and a sink that
// stands in for the queue re-delivers every committed tag in the next batch
// (QD16 batches of 4 KiB reads or writes, like the packed benchmark's jobs).
// It measures what this layer adds around the engine; nothing here is a device.
//   node --min-semi-space-size=1 --max-semi-space-size=1 \
//     bench/tools/dispatch-cost.mjs [REQUESTS (1000000)] [ROUNDS (2)]
// Prints per round and op: ns per request (wall and CPU) and young-generation
// collections per request; with the semi-space fixed at 1 MiB (the flags
// above) a collection comes every ~1 MiB allocated, so it also prints the
// bytes allocated per request that implies (the harness's own included).
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { QueueDispatcher } from '../../dist/src/device/queue-dispatch.js';
import { loggedTarget } from '../../dist/src/server/logged-target.js';
import { RequestLatency } from '../../dist/src/server/latency.js';
import { NoSpaceEpisode } from '../../dist/src/server/no-space-episode.js';
import { silentLogger } from '../../dist/src/server/logger.js';

// Young-generation collections: their rate follows the bytes allocated per request.
let scavenges = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges += 1;
}).observe({ entryTypes: ['gc'] });

const requests = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 2);
const fixedSemiSpace = process.execArgv.includes('--max-semi-space-size=1');
const DEPTH = 16;
const OP = { read: 0, write: 1 };

// An async target like the engine's (one async frame per call).
const inner = {
  async read() {},
  async write() {},
  async flush() {},
  async discard() {},
  async writeZeroes() {},
  async close() {},
};

function runOnce(op) {
  const target = loggedTarget(inner, silentLogger(), new NoSpaceEpisode(), new RequestLatency());
  const dispatcher = new QueueDispatcher(target, 1 << 20, (err) => {
    throw err;
  });
  const batch = {
    count: 0,
    tags: new Uint16Array(DEPTH),
    ops: new Uint8Array(DEPTH),
    opFlags: new Uint32Array(DEPTH),
    startSectors: new Float64Array(DEPTH),
    nrSectors: new Uint32Array(DEPTH),
  };
  let issued = 0;
  let committed = 0;
  let ready = [];
  let lba = 0;
  const deliver = () => {
    batch.count = ready.length;
    for (let i = 0; i < ready.length; i += 1) {
      batch.tags[i] = ready[i];
      batch.ops[i] = OP[op];
      batch.opFlags[i] = 0;
      lba = (lba * 1103515245 + 12345) % 65536;
      batch.startSectors[i] = lba * 8;
      batch.nrSectors[i] = 8;
    }
    issued += ready.length;
    ready = [];
    dispatcher.onBatch(batch);
  };
  return new Promise((resolve) => {
    const buffers = Array.from({ length: DEPTH }, () => Buffer.alloc(512 * 1024));
    dispatcher.attach({
      buffers,
      commit(tag, result) {
        if (result < 0) throw new Error(`errno ${result}`);
        committed += 1;
        if (issued < requests) ready.push(tag);
        else if (committed === requests) resolve();
      },
    });
    // A new batch once per macrotask, as the ring's wake-up delivers them.
    const pump = () => {
      if (ready.length > 0) deliver();
      if (issued < requests) setImmediate(pump);
    };
    for (let t = 0; t < DEPTH; t += 1) ready.push(t);
    pump();
  });
}

for (let round = 1; round <= rounds; round += 1) {
  for (const op of ['read', 'write']) {
    const gc0 = scavenges;
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    await runOnce(op);
    const ns = Number(process.hrtime.bigint() - t0);
    const cpu = process.cpuUsage(cpu0);
    console.log(
      `round ${round} ${op}: ${(ns / requests).toFixed(0)} ns/request wall, ` +
        `${(((cpu.user + cpu.system) * 1000) / requests).toFixed(0)} ns/request cpu, ` +
        `${(((scavenges - gc0) * 1e6) / requests).toFixed(0)} scavenges per million requests` +
        (fixedSemiSpace ? `, ~${(((scavenges - gc0) * 1048576) / requests).toFixed(0)} bytes/request allocated` : ''),
    );
  }
}
