// Devices run as a service, end to end through the real CLI on real
// /dev/ublkbN (in the QEMU guest of test/vm, or natively where the host has
// ublk_drv): `up NAME` from a config with a fake $NOTIFY_SOCKET (READY=1 only
// once the device answers through /dev/ublk-compress/NAME and `list` shows it
// LIVE), mkfs + mount via the stable name, SIGHUP ignored, `down` + `up`
// again with files and stats totals intact, kill -9 + `up` re-attaching under
// the mount, /metrics during fio (its write counter matches what fio wrote),
// and `stats` of two devices (table and Prometheus format).
import { beforeAll, describe, expect, it } from 'vitest';
import { GUEST_PREPARE_TIMEOUT_MS, guestRequired, guestTestTimeoutMs, runInGuest, skipGuest } from './support/guest.js';

const TIMEOUT_SEC = 900;

const EXPECTED_STEPS = [
  /^OK up --foreground data: READY=1 once \/dev\/ublkb\d+ answered through \/dev\/ublk-compress\/data and list showed it LIVE$/m,
  /^OK mkfs \+ mount \/dev\/ublk-compress\/data, \d+ files, \d+ bytes written$/m,
  /^OK kill -HUP: device still LIVE and served by pid \d+$/m,
  /^OK down data: STOPPING=1, \/dev\/ublkb\d+ and \/dev\/ublk-compress\/data gone; a second down is a no-op$/m,
  /^OK up data again: \/dev\/ublkb\d+, all \d+ checksums match, same totals/m,
  /^OK kill -9 \+ up data: re-attached to \/dev\/ublkb\d+ under the mount, files verify$/m,
  /^OK kill -9 \+ recover -n \d+: the new daemon serves as 'data' \(its name tag\), link and tag kept$/m,
  /^OK \/metrics answered while fio ran; written_bytes_total = 32 MiB, what fio wrote$/m,
  /^OK stats: both devices in one table; prometheus: \d+ samples, scratch written_bytes_total = 32 MiB$/m,
  /^OK all done$/m,
];

describe.skipIf(skipGuest)('service operations guest e2e', () => {
  beforeAll(() => guestRequired(), GUEST_PREPARE_TIMEOUT_MS);

  it('up from a config with sd_notify, stable name, SIGHUP, down + up, kill -9 + up, /metrics during fio, stats of two devices', async () => {
    const r = await runInGuest('bash test/e2e/ops-guest.sh', { timeoutSec: TIMEOUT_SEC, memMiB: 2048 });
    const transcript = `${r.stdout}\n${r.stderr}`;
    expect(r.code, transcript).toBe(0);
    for (const step of EXPECTED_STEPS) expect(r.stdout, transcript).toMatch(step);
    expect(r.stdout).not.toMatch(/^FAIL/m);
  }, guestTestTimeoutMs(TIMEOUT_SEC));
});
