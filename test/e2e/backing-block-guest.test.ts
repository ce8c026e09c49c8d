// src/io on a real block device (a loop device in the QEMU guest of test/vm,
// or natively where the host has ublk_drv): BLKGETSIZE64, writes and
// fdatasync on the ring, hole punching as a discard on the ring
// (BLOCK_URING_CMD_DISCARD, Linux 6.12+) or by the synchronous BLKDISCARD
// ioctl, and growth refused. The fixture prints one OK line per step.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GUEST_PREPARE_TIMEOUT_MS, REPO_ROOT, guestRequired, guestTestTimeoutMs, runInGuest, skipGuest } from './support/guest.js';

const TIMEOUT_SEC = 300;

const SCRIPT = `set -e
img=$(mktemp /tmp/uc-block-XXXXXX.img)
truncate -s 64M "$img"
dev=$(losetup -f --show "$img")
trap 'losetup -d "$dev"; rm -f "$img"' EXIT
node test/e2e/fixtures/backing-block-guest.mjs "$dev" "$img"
`;

const EXPECTED_STEPS = [
  /^OK \/dev\/loop\d+: block device of 67108864 bytes, 8 MiB written and synced through the ring$/m,
  /^OK punchHole via (BLOCK_URING_CMD_DISCARD on the ring|the BLKDISCARD ioctl \(ring said EOPNOTSUPP\)): zeros read back, \d+ bytes released$/m,
  /^OK punchHole via the synchronous BLKDISCARD ioctl: zeros read back, \d+ bytes released; grow refused$/m,
  /^OK all done$/m,
];

describe.skipIf(skipGuest)('backing block device guest', () => {
  beforeAll(async () => {
    for (const f of ['dist/src/io/index.js', 'build/Release/ublk_native.node']) {
      if (!existsSync(join(REPO_ROOT, f))) throw new Error(`${f} missing: run npm run build first`);
    }
    await guestRequired();
  }, GUEST_PREPARE_TIMEOUT_MS);

  it('sizes, writes, punches (ring discard and ioctl) and refuses to grow a block device', async () => {
    const r = await runInGuest(SCRIPT, { timeoutSec: TIMEOUT_SEC, modules: ['loop'] });
    const transcript = `${r.stdout}\n${r.stderr}`;
    expect(r.code, transcript).toBe(0);
    for (const step of EXPECTED_STEPS) expect(r.stdout, transcript).toMatch(step);
    expect(r.stdout).not.toMatch(/^FAIL/m);
    console.log(r.stdout.match(/^OK punchHole via [^:]*/m)?.[0]); // which discard path this kernel took
  }, guestTestTimeoutMs(TIMEOUT_SEC));
});
