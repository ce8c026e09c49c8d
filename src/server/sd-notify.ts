// systemd's readiness protocol (sd_notify(3)): under a unit with Type=notify,
// systemd passes $NOTIFY_SOCKET and waits for READY=1 before it starts what
// is ordered after the unit (the fstab mount of the device). The datagram is
// sent by the addon: Node has no unix datagram sockets.

import { native } from '../native/addon.js';

export interface NotifyFields {
  /** The service is up: the block device is live. */
  readonly ready?: boolean;
  /** The service is shutting down. */
  readonly stopping?: boolean;
  /** One line for `systemctl status`. */
  readonly status?: string;
}

/** The datagram text: `KEY=value` lines, a status squeezed onto one line. */
export function formatNotify(fields: NotifyFields): string {
  const lines: string[] = [];
  if (fields.ready) lines.push('READY=1');
  if (fields.stopping) lines.push('STOPPING=1');
  if (fields.status !== undefined) lines.push(`STATUS=${fields.status.replace(/[\r\n]+/g, ' ')}`);
  return lines.join('\n');
}

/**
 * Sends `fields` to $NOTIFY_SOCKET. Resolves to false when the variable is
 * unset (not started by systemd with Type=notify); a failed send throws with
 * the errno. systemd ignores a datagram from a process that is not the unit's
 * main one (NotifyAccess=main), so call it from the serving process.
 */
export function sdNotify(fields: NotifyFields, env: NodeJS.ProcessEnv = process.env): boolean {
  const socket = env.NOTIFY_SOCKET;
  if (socket === undefined || socket === '') return false;
  const message = formatNotify(fields);
  if (message === '') return false;
  native().sdNotify(socket, message);
  return true;
}
