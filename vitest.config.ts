import { defineConfig } from 'vitest/config';

// Every file under test/e2e boots the QEMU guest (or uses the host's ublk).
const GUEST_FILES = 'test/e2e/**/*.test.ts';

export default defineConfig({
  test: {
    // Guest e2e tests boot QEMU under TCG; they set their own longer timeouts.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    // Two lanes on these 2-core machines, each one file at a time: the guest
    // files, and beside them the host suites. One guest keeps ~1.25 cores
    // busy (two vCPU threads that often wait), so a host file mostly fills the
    // idle share. Two guests at once were slower than one after the other
    // (descheduled vCPUs stall each other), hence never two guest files.
    projects: [
      { extends: true, test: { name: 'guest', include: [GUEST_FILES], fileParallelism: false } },
      { extends: true, test: { name: 'host', include: ['test/**/*.test.ts'], exclude: [GUEST_FILES], fileParallelism: false } },
    ],
  },
});
