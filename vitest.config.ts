import { defineConfig } from 'vitest/config';

// Every file under test/e2e boots the QEMU guest (or uses the host's ublk).
const GUEST_FILES = 'test/e2e/**/*.test.ts';

export default defineConfig({
  test: {
    // Guest e2e tests boot QEMU under TCG; they set their own longer timeouts.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    // Two projects, each one file at a time. `npm test` (scripts/test-lanes.sh)
    // runs them as two vitest runs at once: the guest files one after the
    // other, the host suites beside them. `npx vitest run` runs both in turn.
    projects: [
      { extends: true, test: { name: 'guest', include: [GUEST_FILES], fileParallelism: false } },
      { extends: true, test: { name: 'host', include: ['test/**/*.test.ts'], exclude: [GUEST_FILES], fileParallelism: false } },
    ],
  },
});
