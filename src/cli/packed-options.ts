// `add` options of the packed layout (compressed + deduplicated), on top of
// the common ADD_OPTIONS, validated into one PackedConfig (src/server/config.ts).
// The parent `add` passes them on to the daemon with packedDaemonArgv().

import { resolve } from 'node:path';
import { getFlag, getNumber, getString, type OptionSpec, type ParsedArgs } from './args.js';
import { defaultMetaDir } from '../engine/index.js';
import {
  COMPRESS_CHOICES,
  DEDUP_CHOICES,
  type AddConfig,
  type CompressChoice,
  type DedupChoice,
  type PackedConfig,
} from '../server/config.js';
import { UcError } from '../util/errors.js';
import { CACHE_MIB_DEFAULT } from '../util/limits.js';

export const PACKED_OPTIONS: readonly OptionSpec[] = [
  { name: 'meta', short: 'm', kind: 'string', valueName: 'DIR', help: 'packed: metadata directory (default FILE.meta beside the pool)' },
  { name: 'dedup', kind: 'string', valueName: 'MODE', choices: DEDUP_CHOICES, help: 'packed: off, on (trust the 128-bit hash) or verify (byte compare; default)' },
  { name: 'compress', kind: 'string', valueName: 'CODEC', choices: COMPRESS_CHOICES, help: 'packed: lz4 (default) or none' },
  {
    name: 'cache-mib', kind: 'int', valueName: 'MIB', min: 1, max: 1 << 20,
    help: `packed: RAM for the metadata cache and dedup filter (default ${CACHE_MIB_DEFAULT})`,
  },
  // Set by `recover`: the daemon re-attaches to the existing device --id.
  { name: 'recover', kind: 'boolean', help: 'internal', hidden: true },
];

export function packedConfigOf(cfg: AddConfig, args: ParsedArgs): PackedConfig {
  const poolPath = resolve(cfg.backing);
  const meta = getString(args, 'meta');
  if (meta === '') throw new UcError('UC_INVALID_ARGUMENT', 'option --meta: the path is empty');
  const recover = getFlag(args, 'recover');
  if (recover && cfg.devId === undefined) {
    throw new UcError('UC_INVALID_ARGUMENT', '--recover needs --id');
  }
  return {
    poolPath,
    metaDir: meta === undefined ? defaultMetaDir(poolPath) : resolve(meta),
    metaExplicit: meta !== undefined,
    dedup: (getString(args, 'dedup') ?? 'verify') as DedupChoice,
    compression: (getString(args, 'compress') ?? 'lz4') as CompressChoice,
    cacheMib: getNumber(args, 'cache-mib') ?? CACHE_MIB_DEFAULT,
    recover,
  };
}

/** The packed flags the daemon needs besides daemonArgv()'s common ones. */
export function packedDaemonArgv(p: PackedConfig): string[] {
  const argv = ['--meta', p.metaDir, '--dedup', p.dedup, '--compress', p.compression, '--cache-mib', String(p.cacheMib)];
  if (p.recover) argv.push('--recover');
  return argv;
}

/** Rejects options that make no sense for the direct layout. */
export function rejectPackedOnlyOptions(args: ParsedArgs): void {
  for (const name of ['meta', 'dedup', 'compress', 'cache-mib']) {
    if (args.values.has(name)) {
      throw new UcError('UC_INVALID_ARGUMENT', `option --${name} applies to --layout packed only`);
    }
  }
}
