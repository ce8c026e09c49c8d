// `recover -n ID`: after a device's daemon died (kill -9, crash), start
// a new daemon that re-attaches to the same /dev/ublkbN through ublk user
// recovery (START_USER_RECOVERY, FETCH every tag, END_USER_RECOVERY), so a
// mounted filesystem keeps working. Requests the dead daemon had in flight
// are reissued by the kernel; the engine's writes and discards are
// idempotent, so replaying them is harmless (a 1:1 device's reads, writes
// and fallocates are too); a packed pool first replays its write journal. The
// backing, the packed pool's metadata directory and options come from the
// device's run record, the stable name from the tag the dead daemon left
// (/run/ublk-compress/names/ublkbN).

import { deviceIdInUse, requireUblk } from '../../device/control.js';
import type { AddConfig, CompressChoice, DedupChoice, PackedConfig } from '../../server/config.js';
import { defaultLogPath } from '../../server/logger.js';
import { parseListenAddress } from '../../server/metrics-http.js';
import { requireRoot } from '../../server/preflight.js';
import { inheritServiceName } from '../../server/service-events.js';
import { readRunRecord, recordedDaemonAlive, type PackedRunRecord, type RunRecord } from '../../server/run-file.js';
import { directTarget } from '../../server/targets/direct.js';
import { packedTarget } from '../../server/targets/packed.js';
import { UcError } from '../../util/errors.js';
import { CACHE_MIB_DEFAULT } from '../../util/limits.js';
import { getFlag, getNumber, getString, requireOption, type ParsedArgs } from '../args.js';
import { HELP_OPTION, type Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { packedDaemonArgv } from '../packed-options.js';
import { serveHere } from '../serve-here.js';
import { spawnDaemon } from '../spawn.js';

interface RecoveryOptions {
  foreground: boolean;
  logPath?: string;
  startTimeoutMs: number;
}

/** What every layout's new daemon takes from the run record. */
function commonConfigOf(record: RunRecord, opts: RecoveryOptions): AddConfig {
  return {
    backing: record.backing,
    sizeBytes: undefined,
    layout: record.layout,
    queues: record.queues,
    depth: record.depth,
    devId: record.devId,
    foreground: opts.foreground,
    preallocate: false,
    logPath: opts.logPath ?? record.logPath ?? defaultLogPath(record.devId),
    startTimeoutMs: opts.startTimeoutMs,
    readyFd: undefined,
    logProvisional: false,
    // The dead daemon's /metrics comes back with the new one (a record without it: none).
    metrics: record.metrics === undefined ? undefined : parseListenAddress(record.metrics),
    statsGid: record.statsGid,
    // The device's own flags decide zero copy when it is served again.
    zeroCopy: 'auto',
  };
}

/** The config of the new daemon of a 1:1 device: the backing at the device's size. */
export function directRecoveryConfigOf(record: RunRecord, opts: RecoveryOptions): AddConfig {
  return { ...commonConfigOf(record, opts), sizeBytes: record.sizeBytes };
}

/** The config of the new daemon, from the run record the dead one left. */
export function recoveryConfigOf(record: PackedRunRecord, opts: RecoveryOptions): {
  cfg: AddConfig;
  packed: PackedConfig;
} {
  const cfg = commonConfigOf(record, opts);
  const packed: PackedConfig = {
    poolPath: record.backing,
    metaDir: record.metaDir,
    metaExplicit: true,
    dedup: record.dedup as DedupChoice,
    compression: record.compression as CompressChoice,
    cacheMib: typeof record.cacheMib === 'number' ? record.cacheMib : CACHE_MIB_DEFAULT,
    recover: true,
  };
  return { cfg, packed };
}

/** The run record of a device that needs recovery, or a UcError saying why not. */
export function recoverableRecord(devId: number): RunRecord {
  if (!deviceIdInUse(devId)) throw new UcError('UC_DEVICE_NOT_FOUND', `no ublk device with id ${devId} (see 'ublk-compress list')`);
  const record = readRunRecord(devId);
  if (!record) throw new UcError('UC_DEVICE_NOT_FOUND', `/dev/ublkb${devId} has no run record: it was not added by ublk-compress`);
  if (record.layout === 'packed' && typeof (record as PackedRunRecord).metaDir !== 'string') {
    throw new UcError('UC_INVALID_ARGUMENT', `/dev/ublkb${devId}: its run record names no metadata directory`);
  }
  if (recordedDaemonAlive(record)) {
    throw new UcError('UC_DEVICE_EXISTS', `/dev/ublkb${devId} is still served by daemon ${record.pid}: nothing to recover`);
  }
  return record;
}

export const recoverCommand: Command = {
  name: 'recover',
  summary: 're-attach a new daemon to a device whose daemon died (ublk user recovery)',
  usage: 'recover -n ID [--foreground] [--log FILE] [--start-timeout SECONDS]',
  description:
    'The device keeps its number and a mounted filesystem keeps working: I/O\n' +
    'waits while no daemon serves it and resumes once recovery completes.',
  options: [
    HELP_OPTION,
    { name: 'id', short: 'n', kind: 'int', valueName: 'ID', min: 0, max: 0xfffffffe, help: 'device id (N of /dev/ublkbN)' },
    { name: 'foreground', short: 'f', kind: 'boolean', help: 'serve in this process instead of a background daemon' },
    { name: 'log', kind: 'string', valueName: 'FILE', help: 'log file (default: the device\'s log)' },
    { name: 'start-timeout', kind: 'int', valueName: 'SECONDS', min: 1, max: 3600, help: 'bound on the re-attach (default 120)' },
  ],
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const devId = requireOption(getNumber(args, 'id'), 'id');
    requireRoot();
    requireUblk();
    const record = recoverableRecord(devId);
    inheritServiceName(devId); // the stable name and its tag stay this device's
    const opts: RecoveryOptions = {
      foreground: getFlag(args, 'foreground'),
      logPath: getString(args, 'log'),
      startTimeoutMs: (getNumber(args, 'start-timeout') ?? 120) * 1000,
    };
    if (record.layout === 'direct') {
      const cfg = directRecoveryConfigOf(record, opts);
      if (cfg.foreground) return serveHere(cfg, directTarget(cfg, true), io);
      const outcome = await spawnDaemon(cfg, cfg.logPath as string, false, io, ['--recover']);
      io.out(`${outcome.path}\n`);
      return EXIT_OK;
    }
    const { cfg, packed } = recoveryConfigOf(record as PackedRunRecord, opts);
    if (cfg.foreground) return serveHere(cfg, packedTarget(cfg, packed), io);
    const outcome = await spawnDaemon(cfg, cfg.logPath as string, false, io, packedDaemonArgv(packed));
    io.out(`${outcome.path}\n`);
    return EXIT_OK;
  },
};
