// The pipe between `add` and the daemon it spawns. The daemon writes one JSON
// object per line; the parent reads them until `ready` or `error`, or until
// the pipe closes (the daemon died: the parent then cleans up after it).

import { writeSync, closeSync } from 'node:fs';
import type { Readable } from 'node:stream';

export type DaemonMessage =
  | { type: 'backing'; path: string; action: 'create' | 'extend' | 'none'; fromBytes: number; note?: string }
  | { type: 'added'; devId: number; logPath: string }
  | { type: 'ready'; devId: number; path: string; logPath: string }
  | { type: 'error'; code: string; message: string; errno?: number };

/** Daemon side: fd 3 of the daemon (or undefined in a plain --foreground run). */
export class ReadyReporter {
  constructor(private fd: number | undefined) {}

  send(msg: DaemonMessage): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, `${JSON.stringify(msg)}\n`);
    } catch {
      // The parent is gone (killed, or timed out and left): nobody to tell.
      this.close();
    }
  }

  /** Closing tells the parent nothing more will come; the daemon keeps serving. */
  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = undefined;
  }
}

/** Parent side: yields messages as they arrive; ends when the pipe closes. */
export async function* readMessages(stream: Readable): AsyncGenerator<DaemonMessage> {
  let pending = '';
  for await (const chunk of stream) {
    pending += String(chunk);
    let nl: number;
    while ((nl = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim() === '') continue;
      try {
        yield JSON.parse(line) as DaemonMessage;
      } catch {
        // A malformed line is ignored; the daemon's log has the details.
      }
    }
  }
}
