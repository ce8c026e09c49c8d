import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Guest e2e tests boot QEMU under TCG; they set their own longer timeouts.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: the engine crash matrix and the guest must not fight for them.
    fileParallelism: false,
    reporters: ['default'],
  },
});
