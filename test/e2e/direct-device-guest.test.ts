// The 1:1 device end to end, through the real CLI on a real /dev/ublkbN (in
// the QEMU guest of test/vm, or natively where the host has ublk_drv): every
// user error, add/list/del, ext4 with >= 64 MiB of files verified across a
// del + re-add, fio verify, discard releasing backing blocks, and del after
// kill -9 of the daemon. The script prints one "OK" line per verified step.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  GUEST_PREPARE_TIMEOUT_MS,
  guestRequired,
  guestTestTimeoutMs,
  runInGuest,
  skipGuest,
} from './support/guest.js';

const TIMEOUT_SEC = 1200;

const EXPECTED_STEPS = [
  /^OK exit 2: .*below the minimum of 1 MiB/m,
  /^OK exit 2: .*is a directory/m,
  /^OK exit 1: .*read-only filesystem/m,
  /^OK exit 3: .*must be run as root/m,
  /^OK exit 6: .*no ublk device with id 77/m,
  /^OK errors left nothing behind$/m,
  // Zero copy: `--zero-copy on` fails clearly where the kernel lacks AUTO_BUF_REG (6.12).
  /^OK (exit 4: .*zero copy needs UBLK_F_AUTO_BUF_REG.*--zero-copy auto or off|zero copy offered by )/m,
  /^OK exit 2: .*--zero-copy applies to --layout direct only/m,
  /^OK add: \/dev\/ublkb\d+, daemon \d+/m,
  /^OK list and list --json$/m,
  /^OK exit 5: .*already exists/m,
  /^OK exit 7: .*already served/m,
  /^OK wrote \d+ MiB in \d+ files; e2fsck -fn clean$/m,
  /^OK del -n \d+$/m,
  /^OK native path: [1-9]\d* reads, [1-9]\d* writes, [1-9]\d* flushes over the memory file, inline copy/m,
  /^OK re-add \/dev\/ublkb\d+: all \d+ checksums match$/m,
  /^OK fio verify=crc32c/m,
  /^OK stats: native path over the memory file, inline copy: [1-9]\d* reads, [1-9]\d* writes; JS path 0 reads\+writes$/m,
  /^OK UBLK_DIRECT_PATH=js: fio verify=crc32c over 16 MiB, served by the JS path$/m,
  /^OK ext4 backing: fio verify=crc32c over 16 MiB, served natively, direct-mapped to the RAM disk, copying \(zero copy auto\)$/m,
  /^OK blkdiscard 32 MiB: reads zeros, backing released \d+ MiB$/m,
  /^OK kill -9 daemon then del: done in \d+s/m,
  /^OK all done$/m,
];

describe.skipIf(skipGuest)('direct device guest e2e', () => {
  beforeAll(() => guestRequired(), GUEST_PREPARE_TIMEOUT_MS);

  it('add, mkfs, files, del, re-add, fio verify, discard, kill -9 + del, errors', async () => {
    const r = await runInGuest('bash test/e2e/direct-device-guest.sh', { timeoutSec: TIMEOUT_SEC, memMiB: 2048 });
    const transcript = `${r.stdout}\n${r.stderr}`;
    expect(r.code, transcript).toBe(0);
    for (const step of EXPECTED_STEPS) expect(r.stdout, transcript).toMatch(step);
    expect(r.stdout).not.toMatch(/^FAIL/m);
  }, guestTestTimeoutMs(TIMEOUT_SEC));
});
