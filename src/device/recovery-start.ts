// START_USER_RECOVERY, sent only once the kernel has settled after the old
// server's death. The kernel accepts it as soon as the device is QUIESCED and
// the old server's /dev/ublkcN is closed (-EBUSY before). But on kernels with
// the quiesce work item (6.12 has it), that work sets QUIESCED, drops
// the device mutex and only then cancels the old server's commands; a
// START_USER_RECOVERY in that window resets every tag (command pointer NULL,
// flags 0) under it, so the late cancel either completes a NULL command or
// aborts a FETCH of the new server, whose tag the kernel later dispatches on a
// freed command (docs/ublk-protocol.md, "Recovery"). Retrying the moment the
// state flips lands in exactly that window, so: wait for QUIESCED, let the
// cancel pass finish, then send START (still retried while -EBUSY).

import { setTimeout as sleep } from 'node:timers/promises';
import { UBLK_STATE, type UblkControl } from '../native/index.js';
import { EBUSY, errnoOf } from '../util/errno.js';

export interface RecoveryTiming {
  /** Pause between state polls and -EBUSY retries. */
  readonly retryMs: number;
  /** Bound on waiting for QUIESCED and for the old server's file to close. */
  readonly busyWaitMs: number;
  /** Quiet time after QUIESCED was seen, for the kernel's cancel pass. */
  readonly settleMs: number;
  /** Bound on each control command. */
  readonly commandTimeoutMs: number;
}

export const RECOVERY_TIMING: RecoveryTiming = {
  retryMs: 100,
  busyWaitMs: 30_000,
  // The cancel pass walks queues x depth tags (microseconds); 500 ms covers a
  // kworker delayed by a loaded (emulated) machine at little cost to a restart.
  settleMs: 500,
  commandTimeoutMs: 10_000,
};

type RecoveryControl = Pick<UblkControl, 'getDevInfo' | 'startUserRecovery'>;

/** Waits until the device left LIVE (the quiesce work ran) or the bound passed; returns the state seen last. */
async function awaitQuiesced(control: RecoveryControl, devId: number, t: RecoveryTiming, deadline: number): Promise<number> {
  for (;;) {
    const { state } = await control.getDevInfo(devId, { timeoutMs: t.commandTimeoutMs });
    if (state !== UBLK_STATE.LIVE || Date.now() >= deadline) return state;
    await sleep(t.retryMs);
  }
}

/**
 * Sends START_USER_RECOVERY for `devId` once it is safe (see above). Throws
 * the control error of GET_DEV_INFO or START_USER_RECOVERY (-EBUSY only once
 * `busyWaitMs` passed); the caller maps it.
 */
export async function startRecoveryWhenSettled(control: RecoveryControl, devId: number, t: RecoveryTiming = RECOVERY_TIMING): Promise<void> {
  const deadline = Date.now() + t.busyWaitMs;
  const state = await awaitQuiesced(control, devId, t, deadline);
  // Any other state (DEAD, FAIL_IO, or still LIVE at the bound): START says why.
  if (state === UBLK_STATE.QUIESCED) await sleep(t.settleMs);
  for (;;) {
    try {
      await control.startUserRecovery(devId, { timeoutMs: t.commandTimeoutMs });
      return;
    } catch (err) {
      if (errnoOf(err) !== EBUSY || Date.now() >= deadline) throw err;
      await sleep(t.retryMs);
    }
  }
}
