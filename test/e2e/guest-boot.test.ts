// The guest harness itself: boots the QEMU guest through runInGuest/vm-run
// and checks what every guest e2e test relies on (ublk_drv loaded, the 6.12
// kernel, node + the project's node_modules, environment, exit codes,
// timeouts, harness failures reported as errors). About 25 s on a quiet host;
// the generous timeouts are for a host shared with other guests (boots then
// take 5-10x longer).
import { beforeAll, describe, expect, it } from 'vitest';
import {
  GUEST_PREPARE_TIMEOUT_MS, guestRequired, guestTestTimeoutMs, runInGuest, skipGuest,
} from './support/guest.js';

describe.skipIf(skipGuest)('guest boot (QEMU harness)', () => {
  beforeAll(() => guestRequired('guest'), GUEST_PREPARE_TIMEOUT_MS);

  it('boots 6.12 with ublk_drv, runs node with the project node_modules and the caller env', async () => {
    const script = [
      'set -e',
      'test -c /dev/ublk-control && echo ublk-control=yes',
      'grep -q "^ublk_drv " /proc/modules && echo ublk_drv=loaded',
      'echo "kernel=$(uname -r)"',
      'echo "vm_run=$VM_RUN probe=$GUEST_PROBE cwd=$PWD"',
      'node -e \'const { ClassicLevel } = require("classic-level"); console.log("node=" + process.version + " classic-level=" + typeof ClassicLevel)\'',
      'echo to-stderr >&2',
    ].join('\n');
    const r = await runInGuest(script, { timeoutSec: 240, mode: 'guest', env: { GUEST_PROBE: 'a b$c' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('ublk-control=yes');
    expect(r.stdout).toContain('ublk_drv=loaded');
    expect(r.stdout).toMatch(/^kernel=6\.12\./m);
    expect(r.stdout).toContain(`vm_run=1 probe=a b$c cwd=${process.cwd()}`);
    expect(r.stdout).toMatch(/^node=v\d+\.\d+\.\d+ classic-level=function$/m);
    expect(r.stderr).toBe('to-stderr\n');
    expect(r.timedOut).toBe(false);
  }, guestTestTimeoutMs(240));

  it('propagates the exit status of the command', async () => {
    const r = await runInGuest('echo before; exit 3', { timeoutSec: 180, mode: 'guest' });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('before\n');
  }, guestTestTimeoutMs(180));

  it('stops a run at its timeout with status 124', async () => {
    // On a loaded host the boot alone may use most of the 12 s, so "started"
    // is not required; what matters is the bounded stop and the status.
    const r = await runInGuest('echo started; sleep 120; echo not-reached', { timeoutSec: 12, mode: 'guest' });
    expect(r.code).toBe(124);
    expect(r.timedOut).toBe(true);
    expect(r.stdout).not.toContain('not-reached');
    expect(r.stderr).toMatch(/^vm-run: timed out after 12 s/m);
    expect(r.durationMs).toBeGreaterThanOrEqual(12_000);
    expect(r.durationMs).toBeLessThan(25_000);
  }, guestTestTimeoutMs(12));

  it('rejects with the harness reason when the guest cannot do its part', async () => {
    await expect(runInGuest('true', { timeoutSec: 180, mode: 'guest', modules: ['no_such_module_x'] }))
      .rejects.toThrow(/vm-run: modprobe no_such_module_x failed/);
  }, guestTestTimeoutMs(180));
});
