// src/native + src/device against a real ublk kernel driver (the QEMU guest
// of test/vm, or natively where the host has ublk_drv): start a device served
// by a small BlockTarget, dd round trips, FLUSH via sync, discard and
// write-zeroes, stop+delete, the native request path on its own duplicate
// of a descriptor the caller closed, delete from another process, kill -9 then
// delete without hanging, and USER_RECOVERY. The script prints one OK line
// per verified step (test/e2e/fixtures/native-device-guest.sh).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  GUEST_PREPARE_TIMEOUT_MS,
  REPO_ROOT,
  guestRequired,
  guestTestTimeoutMs,
  runInGuest,
  skipGuest,
} from './support/guest.js';

const TIMEOUT_SEC = 480;

const EXPECTED_STEPS = [
  /^OK started \/dev\/ublkb\d+ in \d+ ms$/m,
  /^OK queue limits: /m,
  /^OK dd 8 MiB direct and 8 MiB buffered round trips$/m,
  /^OK flush via sync: \d+ -> \d+ flushes$/m,
  /^OK discard and write-zeroes read back zeros$/m,
  /^OK SIGTERM: stopped in \d+ ms, deleted in \d+ ms$/m,
  /^OK native path on its own descriptor: \d+ native writes, the caller's closed fd number untouched$/m,
  /^OK two queues round trip; delete from another process while served: /m,
  /^OK kill -9 during I\/O then delete \(node start included: \d+ ms\): \{.*"deleteMs":\d+/m,
  /^OK recovered \/dev\/ublkb\d+ after kill -9: data intact, deleted$/m,
  /^OK all done$/m,
];

describe.skipIf(skipGuest)('native device guest', () => {
  beforeAll(async () => {
    // The fixtures run the compiled layers: `npm run build` (pretest) makes them.
    for (const f of ['dist/src/device/index.js', 'build/Release/ublk_native.node']) {
      if (!existsSync(join(REPO_ROOT, f))) throw new Error(`${f} missing: run npm run build first`);
    }
    await guestRequired();
  }, GUEST_PREPARE_TIMEOUT_MS);

  it('serves, flushes, discards, stops, deletes, survives kill -9 and recovers', async () => {
    const r = await runInGuest('bash test/e2e/fixtures/native-device-guest.sh', {
      timeoutSec: TIMEOUT_SEC,
      memMiB: 2048,
    });
    const transcript = `${r.stdout}\n${r.stderr}`;
    expect(r.code, transcript).toBe(0);
    for (const step of EXPECTED_STEPS) expect(r.stdout, transcript).toMatch(step);
    expect(r.stdout).not.toMatch(/^FAIL/m);
  }, guestTestTimeoutMs(TIMEOUT_SEC));
});
