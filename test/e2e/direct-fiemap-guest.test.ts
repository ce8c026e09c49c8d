// The 1:1 layout's direct-mapped path end to end, on a real /dev/ublkbN (in
// the QEMU guest of test/vm): backing files on ext4 and xfs over RAM disks,
// ext4 on the device with files verified, fio verify, raw-device I/O counted;
// sparse and unwritten backings served through the file until written;
// discard; xfs reflinks before add and while serving never written raw.
import { beforeAll, describe, expect, it } from 'vitest';
import { GUEST_PREPARE_TIMEOUT_MS, guestRequired, guestTestTimeoutMs, runInGuest, skipGuest } from './support/guest.js';

const TIMEOUT_SEC = 900;

const EXPECTED_STEPS = [
  /^OK ext4: direct-mapped on \/dev\/ram: files verified after remount, fio verify=crc32c; [1-9]\d* raw reads, [1-9]\d* raw writes/m,
  /^OK xfs: direct-mapped on \/dev\/ram: files verified after remount, fio verify=crc32c; [1-9]\d* raw reads, [1-9]\d* raw writes/m,
  /^OK sparse backing: zeros through the file path, then direct-mapped once written/m,
  /^OK unwritten backing: zeros through the file path, then direct-mapped once written/m,
  /^OK blkdiscard on the mapped path: zeros, blocks released, rewritten and mapped again; flushed data kept across kill -9$/m,
  /^OK xfs reflink before add and while serving: both copies unchanged, no raw write to shared extents$/m,
  /^OK all done$/m,
];

describe.skipIf(skipGuest)('direct-mapped path guest e2e', () => {
  beforeAll(() => guestRequired(), GUEST_PREPARE_TIMEOUT_MS);

  it('ext4 and xfs backings mapped to the disk; sparse, unwritten, discard, reflink', async () => {
    const r = await runInGuest('bash test/e2e/direct-fiemap-guest.sh', { timeoutSec: TIMEOUT_SEC, memMiB: 2048 });
    const transcript = `${r.stdout}\n${r.stderr}`;
    expect(r.code, transcript).toBe(0);
    for (const step of EXPECTED_STEPS) expect(r.stdout, transcript).toMatch(step);
    expect(r.stdout).not.toMatch(/^FAIL/m);
  }, guestTestTimeoutMs(TIMEOUT_SEC));
});
