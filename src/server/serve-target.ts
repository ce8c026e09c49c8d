// The contract between the serving lifecycle (serve.ts) and a layout's
// wiring (targets/direct.ts, targets/packed.ts). The lifecycle owns the
// order, the log, the run record and the ready channel; a target owns its
// checks, its backing file or pool and the device it serves.

import type { BackingLock } from './backing-lock.js';
import type { Layout } from './config.js';
import type { Logger } from './logger.js';
import type { DaemonMessage } from './ready-channel.js';
import type { StatsSnapshot } from './targets/packed-stats.js';

/** What opening the backing changed, for the parent `add` (and the user). */
export type BackingNote = Omit<Extract<DaemonMessage, { type: 'backing' }>, 'type'>;

export interface ServedDevice {
  readonly devId: number;
  readonly path: string;
  /** Resolves when the device stops (asked by us, or deleted from outside). */
  readonly stopped: Promise<void>;
  /** Stops the device, closes the target (durably), deletes the device. Idempotent. */
  shutdown(): Promise<void>;
  /** The device's size now (an online grow changes it). */
  sizeBytes(): number;
  /** The packed device's figures (`stats`, /metrics, the systemd STATUS line). */
  stats?(): StatsSnapshot;
}

export interface StartHooks {
  readonly log: Logger;
  /** Called right after ADD_DEV, before START_DEV (never when recovering). */
  readonly onAdded: (devId: number) => void;
  /** `--stats-group`: a stats-only control socket that group may use. */
  readonly statsGid?: number;
}

/** A backing opened and locked for this process; the device is not created yet. */
export interface OpenedTarget {
  /** Held until the process exits: no other process may serve or change the backing. */
  readonly lock: BackingLock;
  /** The run record's backing path and device size. */
  readonly backing: string;
  readonly sizeBytes: number;
  /** Layout-specific run record fields (packed: metaDir, dedup, compression). */
  readonly recordFields: Readonly<Record<string, string | number>>;
  /** Fields of the 'device ready' log line. */
  readonly readyFields: Readonly<Record<string, unknown>>;
  /** The log line after a clean shutdown. */
  readonly stoppedMessage: string;
  /** Creates (or re-attaches to) the device and serves it. */
  start(hooks: StartHooks): Promise<ServedDevice>;
  /**
   * After a failed start: undoes what open() and start() did. `device` is
   * what start() returned, when it did (a later step failed).
   */
  abort(device: ServedDevice | undefined): Promise<void>;
}

export interface ServeTarget {
  readonly layout: Layout;
  /** Re-attach to an existing device (`recover`) instead of adding one. */
  readonly recovering: boolean;
  /** Every check that needs neither the backing's content nor a device. */
  preflight(): void;
  /**
   * Locks and prepares the backing (creates, extends, formats or opens it).
   * `announce` tells the parent what changed before it changes. A failure
   * leaves nothing changed and nothing locked.
   */
  open(log: Logger, announce: (note: BackingNote) => void): Promise<OpenedTarget>;
}
