// The packed (compressed + deduplicated) device end to end, through the real
// CLI on a real /dev/ublkbN (in the QEMU guest of test/vm, or natively where
// the host has ublk_drv), in one guest boot: ext4 with two copies of a real
// tree (ratio > 1.5, dedup hits, checksums across del + re-add, same stats
// totals), bad input leaving the pool untouched, a relative --backing from a
// subdirectory (and a symlink alias of it refused), delete + fstrim + compact
// shrinking the pool, fio verify on the raw device (its reads served by the
// addon's native read path), and kill -9 of the daemon
// during an fsync'ing workload followed by `recover` (whose daemon must not
// hold a copy of the caller's mount of the device) or by del + add, and
// growing a mounted ext4 (offline on this kernel: it lacks UPDATE_SIZE).
// The script prints one "OK" line per verified step.
import { beforeAll, describe, expect, it } from 'vitest';
import { GUEST_PREPARE_TIMEOUT_MS, guestRequired, guestTestTimeoutMs, runInGuest, skipGuest } from './support/guest.js';

const TIMEOUT_SEC = 1500;

const EXPECTED_STEPS = [
  /^OK add packed: \/dev\/ublkb\d+/m,
  /^OK mkfs \+ 2 copies \(\d+ MiB\) \+ sync in [\d.]+ s; ratio [\d.]+:1, dedup hits [1-9]\d*/m,
  /^OK stats table$/m,
  /^OK e2fsck -fn clean; del -n \d+$/m,
  /^OK re-add \/dev\/ublkb\d+: all \d+ checksums match, same totals/m,
  /^OK exit 7: .*not our pool/m,
  /^OK exit 7: .*missing or empty/m,
  /^OK exit 2: .*never shrinks/m,
  /^OK exit 7: .*is not empty/m,
  /^OK bad input left the pool unchanged/m,
  /^OK exit 7: .*alias\.img is already served by \/dev\/ublkb\d+ \(daemon pid \d+/m,
  /^OK relative --backing rel\/pool\.img from \S+ served \S+ \(0600\/0700, locked, nothing under \/, writes land in it\)$/m,
  /^OK deleted \d+x2 files, fstrim freed \d+ B physical, compact: pool du fell by \d+ B; \d+ remaining files verify$/m,
  /^OK fio verify=crc32c randwrite 4k-128k .*, native reads [1-9]\d* requests .*, [1-9]\d* one-block writes applied in the addon$/m,
  // 6.12 has no UPDATE_SIZE: resize refuses with the offline path, which works.
  /^OK exit 4: .*cannot resize a live ublk device/m,
  /^OK grow ext4 1 GiB -> 2 GiB offline \(del \+ add --size \+ resize2fs\): \d+ files verify, e2fsck -fn clean, 2 GiB after del \+ add$/m,
  // Completed writes outlive a kill -9 inside the group commit's delay (the write journal).
  /^OK kill -9 right after 6 MiB of completed direct writes \(the last MiB in 4 KiB writes\), recover: every byte reads back/m,
  /^OK kill -9 after \d+ fsync'ed files, recover: same device, workload finished, e2fsck -fn clean/m,
  /^OK after recover the daemon's mount namespace held no mount of the device; umount released it everywhere; del succeeded$/m,
  /^OK kill -9 after \d+ fsync'ed files, del \+ add: e2fsck -fn clean, all \d+ fsync'ed files verify$/m,
  /^OK all done$/m,
];

describe.skipIf(skipGuest)('packed device guest e2e', () => {
  beforeAll(() => guestRequired(), GUEST_PREPARE_TIMEOUT_MS);

  it('ext4 + tree copies + stats + re-add, bad input, compaction, fio verify, recover, kill -9 + re-add', async () => {
    const r = await runInGuest('bash test/e2e/packed-device-guest.sh', { timeoutSec: TIMEOUT_SEC, memMiB: 2048 });
    const transcript = `${r.stdout}\n${r.stderr}`;
    expect(r.code, transcript).toBe(0);
    for (const step of EXPECTED_STEPS) expect(r.stdout, transcript).toMatch(step);
    expect(r.stdout).not.toMatch(/^FAIL/m);
  }, guestTestTimeoutMs(TIMEOUT_SEC));
});
