// What a serving daemon tells the system around its device's life, in three
// calls from the serve loop: the device got its number (tag for udev), the
// device is live (stable name link, READY=1 to systemd), the daemon is
// stopping (STOPPING=1, link and tag removed). None of them may fail a start
// or a stop: a problem is logged and the device keeps serving.
//
// The name comes from `up NAME`, which sets UBLK_COMPRESS_NAME for the daemon
// it starts (or itself, with --foreground); a plain `add` has none. A plain
// `recover -n ID` takes the name the dead daemon left in its tag.

import type { Logger } from './logger.js';
import { sdNotify } from './sd-notify.js';
import {
  linkStableName,
  readNameTag,
  removeNameTag,
  stableNamePath,
  unlinkStableName,
  validateDeviceName,
  writeNameTag,
} from './stable-name.js';

export const NAME_ENV = 'UBLK_COMPRESS_NAME';

/** The stable name this daemon serves under, if any (a bad one is ignored with a log line). */
export function serviceName(log?: Logger, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const name = env[NAME_ENV];
  if (name === undefined || name === '') return undefined;
  try {
    return validateDeviceName(name);
  } catch (err) {
    log?.warn({ err }, `ignoring ${NAME_ENV}`);
    return undefined;
  }
}

/**
 * For `recover -n ID`: the new daemon serves under the name device `devId`
 * had (the tag its dead daemon left), unless one is set already (`up NAME`).
 * -> the name, if any.
 */
export function inheritServiceName(devId: number, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const set = env[NAME_ENV];
  if (set !== undefined && set !== '') return set;
  const tagged = readNameTag(devId);
  if (tagged !== undefined && tagged !== '') env[NAME_ENV] = tagged;
  return env[NAME_ENV];
}

function attempt(log: Logger, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    log.error({ err, errno: (err as NodeJS.ErrnoException).errno }, what);
  }
}

/** After ADD_DEV, before START_DEV: the udev rule finds the name when the disk appears. */
export function serviceDeviceAdded(devId: number, log: Logger, env: NodeJS.ProcessEnv = process.env): void {
  const name = serviceName(log, env);
  if (name !== undefined) attempt(log, 'could not write the name tag', () => writeNameTag(devId, name));
}

/** The block device is live: link its stable name, then tell systemd. */
export function serviceDeviceLive(devId: number, path: string, log: Logger, status?: string): void {
  const name = serviceName(log);
  if (name !== undefined) {
    attempt(log, 'could not link the stable name', () => {
      linkStableName(name, path);
      log.info({ link: stableNamePath(name), devId }, 'stable name linked');
    });
  }
  attempt(log, 'sd_notify READY failed', () => {
    if (sdNotify({ ready: true, status: status ?? `serving ${path}` })) log.info('told systemd READY=1');
  });
}

/** A new STATUS line for `systemctl status` (the ratio, for example). */
export function serviceStatus(status: string, log: Logger): void {
  attempt(log, 'sd_notify STATUS failed', () => sdNotify({ status }));
}

/** Shutdown begins: STOPPING=1, and the stable name no longer leads here. */
export function serviceStopping(devId: number, path: string, log: Logger, env: NodeJS.ProcessEnv = process.env): void {
  attempt(log, 'sd_notify STOPPING failed', () => sdNotify({ stopping: true, status: `stopping ${path}` }));
  const name = serviceName(log, env);
  if (name === undefined) return;
  attempt(log, 'could not remove the stable name', () => {
    unlinkStableName(name, path);
    removeNameTag(devId);
  });
}
