// Persistent device declarations: /etc/ublk-compress/NAME.conf, one device
// per file, `key = value` lines whose keys are the long options of `add`
// (backing, size, layout, meta, dedup, compress, queues, depth, id, log,
// start-timeout). Each value is checked by the same OptionSpec the command
// line uses, so a config accepts exactly what `add` accepts; every mistake is
// a UC_INVALID_ARGUMENT (exit 2) naming the file and line. docs/operations.md
// documents the format.

import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { convertValue, parseArgs, type OptionSpec } from './args.js';
import { ADD_OPTIONS, addConfigOf } from './add-config.js';
import { PACKED_OPTIONS } from './packed-options.js';
import { UcError } from '../util/errors.js';
import { ENOENT, errnoOf } from '../util/errno.js';
import { validateDeviceName } from '../server/stable-name.js';

export const DEFAULT_CONFIG_DIR = '/etc/ublk-compress';

/** `add` options a config may set: the user-facing ones, minus per-run switches. */
const NOT_IN_CONFIG = new Set(['help', 'foreground']);
export const CONFIG_KEYS: readonly OptionSpec[] = [...ADD_OPTIONS, ...PACKED_OPTIONS].filter(
  (s) => !s.hidden && !NOT_IN_CONFIG.has(s.name),
);
const PATH_KEYS = new Set(['backing', 'meta', 'log']);

export interface DeviceConfig {
  readonly name: string;
  /** The file it came from. */
  readonly file: string;
  /** Absolute backing path. */
  readonly backing: string;
  /** key -> value text as written (validated), in file order. */
  readonly settings: ReadonlyMap<string, string>;
}

function invalid(message: string): UcError {
  return new UcError('UC_INVALID_ARGUMENT', message);
}

export function configPath(dir: string, name: string): string {
  return join(resolve(dir), `${validateDeviceName(name)}.conf`);
}

/** Checks one `key = value` line's value as `add --key value` would. */
function checkValue(spec: OptionSpec, value: string, where: string): void {
  try {
    convertValue(spec, value);
  } catch (err) {
    throw invalid(`${where}: ${(err as Error).message.replace(`option --${spec.name}`, `'${spec.name}'`)}`);
  }
  if (PATH_KEYS.has(spec.name) && !isAbsolute(value)) {
    throw invalid(`${where}: '${spec.name}' must be an absolute path, not '${value}'`);
  }
}

/** Parses the text of NAME.conf; `file` names it in messages. */
export function parseDeviceConfig(name: string, text: string, file: string): DeviceConfig {
  validateDeviceName(name);
  const byName = new Map(CONFIG_KEYS.map((s) => [s.name, s]));
  const settings = new Map<string, string>();
  text.split('\n').forEach((raw, index) => {
    const where = `${file}:${index + 1}`;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq === -1) throw invalid(`${where}: expected 'key = value', got '${line}'`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const spec = byName.get(key);
    if (!spec) throw invalid(`${where}: unknown key '${key}' (known: ${[...byName.keys()].join(', ')})`);
    if (settings.has(key)) throw invalid(`${where}: '${key}' is set twice`);
    if (spec.kind === 'boolean') throw invalid(`${where}: '${key}' cannot be set in a config file`);
    checkValue(spec, value, where);
    settings.set(key, value);
  });
  const backing = settings.get('backing');
  if (backing === undefined) throw invalid(`${file}: missing required key 'backing'`);
  if (settings.get('layout') === 'direct') {
    for (const key of ['meta', 'dedup', 'compress', 'cache-mib']) {
      if (settings.has(key)) throw invalid(`${file}: '${key}' applies to layout = packed only`);
    }
  }
  const config = { name, file, backing: resolve(backing), settings };
  // The checks `add` makes across values (size bounds, --metrics address), here too.
  try {
    addConfigOf(parseArgs(addArgvOf(config), [...ADD_OPTIONS, ...PACKED_OPTIONS]));
  } catch (err) {
    throw invalid(`${file}: ${(err as Error).message.replace(/(?:option )?--([a-z-]+)/, "'$1'")}`);
  }
  return config;
}

/** Reads DIR/NAME.conf; a missing file is a usage error (exit 2) that says where it looked. */
export function loadDeviceConfig(dir: string, name: string): DeviceConfig {
  const file = configPath(dir, name);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoOf(err) === ENOENT) throw invalid(`no configuration for '${name}': ${file} does not exist`);
    throw new UcError('UC_IO', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseDeviceConfig(name, text, file);
}

/** The `add` command line a config stands for. */
export function addArgvOf(config: DeviceConfig): string[] {
  const argv: string[] = [];
  for (const [key, value] of config.settings) argv.push(`--${key}`, value);
  return argv;
}
