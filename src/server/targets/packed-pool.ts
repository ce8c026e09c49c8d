// Opening the pool a packed device serves: check what the user gave before
// touching anything (preflightPackedPool), then format a new pool or open an
// existing one and grow it when --size asks for more (openPackedPool). A
// pool that is foreign, truncated, of a newer format, or whose metadata is
// missing or belongs to another pool is refused by the engine before it
// writes anything; a --size below the pool's size is refused here (a pool
// never shrinks silently). claimPackedPool() takes the pool's lock first
// (src/server/backing-lock.ts) and plans again under it, so nothing acts on facts
// another process may have changed. A start that then fails removes only
// what this process itself created (the pool file, the metadata directory).

import { chmodSync, mkdirSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { formatPool, openPool, type BlockEngine, type EngineOptions } from '../../engine/index.js';
import { lockedOpener, openBackingFile, unlinkIfSame, type BackingOpener } from '../../io/index.js';
import { loadLegacyCounters } from './counter-store.js';
import { UcError } from '../../util/errors.js';
import { BLOCK_BYTES, formatBytes } from '../../util/units.js';
import { claimBacking, type BackingLock } from '../backing-lock.js';
import type { AddConfig, PackedConfig } from '../config.js';
import { inspectBacking, validateDeviceSize, type BackingInfo } from '../preflight.js';

export type PoolAction = 'format' | 'open' | 'grow';

export interface PoolPlan {
  readonly backing: BackingInfo;
  readonly action: 'format' | 'open';
  /** This process created the (empty) pool file: a failed format removes it again. */
  readonly poolCreated: boolean;
}

function dirHasEntries(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

/** Why a new pool cannot be created from this configuration, if it cannot. */
function newPoolRefusal(cfg: AddConfig, p: PackedConfig, path: string, metaExists: boolean): UcError | undefined {
  if (p.recover) return new UcError('UC_META_MISMATCH', `pool ${path} does not exist: nothing to recover`);
  if (cfg.sizeBytes === undefined) {
    return new UcError('UC_INVALID_ARGUMENT', `pool ${path} does not exist: give --size to create it`);
  }
  if (metaExists && dirHasEntries(p.metaDir)) {
    return new UcError(
      'UC_META_MISMATCH',
      `metadata directory ${p.metaDir} is not empty but pool ${path} does not exist (move it away or give another --meta)`,
    );
  }
  return undefined;
}

/**
 * Checks that need no pool I/O: the paths and the combination of pool and
 * metadata. `created`: this process has just created the (empty) pool file
 * and holds its lock. Without the lock the answer is provisional: a refusal
 * of a new pool stands only if the pool is still missing afterwards (a racing
 * start creates the pool before its metadata and removes it after), else the
 * plan is 'open' and the pool's lock decides; claimPackedPool plans again
 * under the lock.
 */
export function preflightPackedPool(cfg: AddConfig, p: PackedConfig, created = false): PoolPlan {
  const backing = inspectBacking(p.poolPath);
  if (cfg.sizeBytes !== undefined) validateDeviceSize(cfg.sizeBytes);
  // One stat: a racing format removes an empty metadata directory and LevelDB
  // recreates it, so "exists" and "is a directory" must come from one look.
  const metaSt = statSync(p.metaDir, { throwIfNoEntry: false });
  const metaExists = metaSt !== undefined;
  if (metaSt !== undefined && !metaSt.isDirectory()) {
    throw new UcError('UC_INVALID_ARGUMENT', `metadata path ${p.metaDir} is not a directory`);
  }
  const isNewFile = created || !backing.exists || (backing.kind === 'file' && backing.sizeBytes === 0 && !metaExists);
  if (isNewFile) {
    const refusal = newPoolRefusal(cfg, p, backing.path, metaExists);
    if (refusal === undefined) return { backing, action: 'format', poolCreated: created };
    if (created || backing.exists) throw refusal;
    const now = inspectBacking(p.poolPath);
    if (!now.exists) throw refusal;
    return { backing: now, action: 'open', poolCreated: false }; // appeared meanwhile: the lock decides
  }
  // An existing pool: the engine checks superblock and metadata (foreign,
  // truncated, newer, missing or mismatched) before it writes anything.
  return { backing, action: 'open', poolCreated: false };
}

export interface OpenedPool {
  readonly engine: BlockEngine;
  readonly action: PoolAction;
  /** One line for the user, or undefined when nothing noteworthy happened. */
  readonly note: string | undefined;
  /** Removes a pool (and metadata directory) this start created; no-op otherwise. */
  undo(): Promise<void>;
}

interface PoolOpenOptions extends EngineOptions {
  openBacking: BackingOpener | undefined;
  openJournal: BackingOpener | undefined;
}

/** How the engine opens its files: the pool (locked to one inode) and the write journal. */
export interface PoolOpeners {
  pool: BackingOpener;
  journal: BackingOpener;
}

function engineOptions(p: PackedConfig, open: PoolOpeners | undefined): PoolOpenOptions {
  return {
    dedup: p.dedup, compression: p.compression, cacheMib: p.cacheMib,
    openBacking: open?.pool, openJournal: open?.journal,
    legacyCounters: (uuid) => loadLegacyCounters(p.metaDir, uuid),
  };
}

/** Runs `fn` with umask 077: whatever LevelDB creates for a new pool stays private. */
async function withPrivateUmask<T>(fn: () => Promise<T>): Promise<T> {
  const before = process.umask(0o077);
  try {
    return await fn();
  } finally {
    process.umask(before);
  }
}

async function formatNew(cfg: AddConfig, p: PackedConfig, plan: PoolPlan, openBacking?: PoolOpeners): Promise<OpenedPool> {
  const sizeBytes = cfg.sizeBytes;
  if (sizeBytes === undefined) throw new UcError('UC_INVALID_ARGUMENT', 'give --size to create a pool');
  // mkdir reports the first directory it really made: that, and only that,
  // is ours to remove (never a directory that existed a moment ago).
  const metaMade = mkdirSync(p.metaDir, { recursive: true, mode: 0o700 });
  // Metadata goes before the pool, the reverse of creation: no other process
  // ever sees metadata without its pool (preflightPackedPool relies on it).
  const removeCreated = (): void => {
    if (metaMade !== undefined) rmSync(metaMade, { recursive: true, force: true });
    if (plan.poolCreated) {
      try {
        unlinkSync(plan.backing.path);
      } catch {
        // already gone
      }
    }
  };
  let engine: BlockEngine;
  try {
    engine = await withPrivateUmask(() =>
      formatPool({ backingPath: plan.backing.path, metaDir: p.metaDir, logicalBytes: sizeBytes, ...engineOptions(p, openBacking) }),
    );
    chmodSync(p.metaDir, 0o700);
  } catch (err) {
    removeCreated();
    throw err;
  }
  return {
    engine,
    action: 'format',
    note: `formatted a new packed pool ${plan.backing.path} (${formatBytes(sizeBytes)}, metadata in ${p.metaDir})`,
    undo: async () => {
      await engine.close().catch(() => undefined);
      removeCreated();
    },
  };
}

/**
 * Formats or opens (and maybe grows) the pool; the engine serves afterwards.
 * `openBacking` opens the pool file and the journal on the daemon's shared ring.
 */
export async function openPackedPool(cfg: AddConfig, p: PackedConfig, plan: PoolPlan, openBacking?: PoolOpeners): Promise<OpenedPool> {
  if (plan.action === 'format') return formatNew(cfg, p, plan, openBacking);
  const engine = await openPool({ backingPath: plan.backing.path, metaDir: p.metaDir, ...engineOptions(p, openBacking) });
  const current = engine.logicalBytes;
  const wanted = cfg.sizeBytes;
  const keep = async (): Promise<void> => {
    await engine.close().catch(() => undefined);
  };
  if (wanted === undefined || wanted === current || p.recover) {
    return { engine, action: 'open', note: undefined, undo: keep };
  }
  if (wanted < current) {
    const dataBytes = engine.stats().mappedBlocks * BLOCK_BYTES;
    await keep();
    throw new UcError(
      'UC_INVALID_ARGUMENT',
      `--size ${formatBytes(wanted)} is smaller than pool ${plan.backing.path} (${formatBytes(current)}, ` +
        `${formatBytes(dataBytes)} of data written); a pool never shrinks`,
    );
  }
  try {
    await engine.resize(wanted);
  } catch (err) {
    await keep();
    throw err;
  }
  return {
    engine,
    action: 'grow',
    note: `grew pool ${plan.backing.path} from ${formatBytes(current)} to ${formatBytes(wanted)}`,
    undo: keep,
  };
}

export interface ClaimedPool {
  readonly opened: OpenedPool;
  /** Held until the daemon exits: no other process may serve or change the pool. */
  readonly lock: BackingLock;
}

/**
 * The daemon's pool start-up: lock the pool (creating it atomically when it
 * is new), plan again under the lock, then format or open it. On failure the
 * lock is released and what this process created is removed.
 */
export async function claimPackedPool(cfg: AddConfig, p: PackedConfig, openBacking?: BackingOpener): Promise<ClaimedPool> {
  const first = preflightPackedPool(cfg, p);
  const lock = claimBacking(first.backing.path, { create: first.action === 'format' && !first.backing.exists });
  try {
    const plan = preflightPackedPool(cfg, p, lock.created);
    // The engine opens the pool by path again: only the inode locked above may be served.
    const journal = openBacking ?? openBackingFile;
    const open = { pool: lockedOpener(journal, lock), journal };
    return { opened: await withPrivateUmask(() => openPackedPool(cfg, p, plan, open)), lock };
  } catch (err) {
    if (lock.created) unlinkIfSame(lock.path, lock);
    lock.release();
    throw err;
  }
}

