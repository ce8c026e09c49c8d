// When START_USER_RECOVERY goes out: only after the device left LIVE and a
// quiet period (the kernel's cancel pass after QUIESCED), retried on -EBUSY
// within the bound, never on another error. Timings shrunk; the kernel side is
// a scripted control (the real one runs in the guest e2e's recover stage).
import { describe, expect, it } from 'vitest';
import { UBLK_STATE, type DevInfo } from '../../../src/native/index.js';
import { startRecoveryWhenSettled, type RecoveryTiming } from '../../../src/device/recovery-start.js';
import { EBUSY, EINVAL } from '../../../src/util/errno.js';

const T: RecoveryTiming = { retryMs: 5, busyWaitMs: 2000, settleMs: 60, commandTimeoutMs: 1000 };

function scripted(states: number[], startErrnos: number[]) {
  const log: Array<{ what: string; at: number }> = [];
  const control = {
    async getDevInfo(): Promise<DevInfo> {
      const state = states.length > 1 ? (states.shift() as number) : (states[0] as number);
      log.push({ what: `info:${state}`, at: Date.now() });
      return { state } as DevInfo;
    },
    async startUserRecovery(): Promise<void> {
      const errno = startErrnos.shift();
      log.push({ what: `start:${errno ?? 0}`, at: Date.now() });
      if (errno !== undefined) throw Object.assign(new Error('START_USER_RECOVERY failed'), { errno: -errno });
    },
  };
  return { control, log };
}

describe('START_USER_RECOVERY timing', () => {
  it('waits out LIVE, settles after QUIESCED, retries -EBUSY', async () => {
    const { LIVE, QUIESCED } = UBLK_STATE;
    const { control, log } = scripted([LIVE, LIVE, QUIESCED], [EBUSY, EBUSY]);
    await startRecoveryWhenSettled(control, 3, T);
    expect(log.map((e) => e.what)).toEqual([`info:${LIVE}`, `info:${LIVE}`, `info:${QUIESCED}`, `start:${EBUSY}`, `start:${EBUSY}`, 'start:0']);
    const quiesced = log[2]?.at ?? 0;
    const firstStart = log[3]?.at ?? 0;
    expect(firstStart - quiesced).toBeGreaterThanOrEqual(T.settleMs - 2); // timer granularity
  });

  it('passes other errors through at once, and -EBUSY after the bound', async () => {
    const a = scripted([UBLK_STATE.QUIESCED], [EINVAL]);
    await expect(startRecoveryWhenSettled(a.control, 3, T)).rejects.toMatchObject({ errno: -EINVAL });
    expect(a.log.filter((e) => e.what.startsWith('start'))).toHaveLength(1);
    const b = scripted([UBLK_STATE.QUIESCED], Array<number>(1000).fill(EBUSY));
    await expect(startRecoveryWhenSettled(b.control, 3, { ...T, busyWaitMs: 150 })).rejects.toMatchObject({ errno: -EBUSY });
  });

  it('does not wait for QUIESCED forever, nor settle on a state START will refuse', async () => {
    const live = scripted([UBLK_STATE.LIVE], [EBUSY, EBUSY, EBUSY]);
    const t0 = Date.now();
    await expect(startRecoveryWhenSettled(live.control, 3, { ...T, busyWaitMs: 100 })).rejects.toMatchObject({ errno: -EBUSY });
    expect(Date.now() - t0).toBeLessThan(1000);
    const dead = scripted([UBLK_STATE.DEAD], [EINVAL]);
    const t1 = Date.now();
    await expect(startRecoveryWhenSettled(dead.control, 3, { ...T, settleMs: 5000 })).rejects.toMatchObject({ errno: -EINVAL });
    expect(Date.now() - t1).toBeLessThan(1000);
  });
});
