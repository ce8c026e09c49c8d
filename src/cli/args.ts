// A small strict argument parser: every flag must be declared, values are
// validated where they are parsed, and every mistake is a UC_INVALID_ARGUMENT
// error whose message names the offending flag (the CLI turns it into exit 2).
//
// Accepted forms: `--name value`, `--name=value`, `-n value`, `-nVALUE` for
// short flags, `--flag` for booleans, and `--` to end the flags.

import { UcError } from '../util/errors.js';
import { parseSize } from '../util/units.js';

export type OptionKind = 'boolean' | 'string' | 'size' | 'int';

export interface OptionSpec {
  /** Long name without the dashes, e.g. 'backing'. */
  readonly name: string;
  /** Optional one-letter alias, e.g. 'n'. */
  readonly short?: string;
  readonly kind: OptionKind;
  /** Placeholder shown in help, e.g. 'FILE'. */
  readonly valueName?: string;
  readonly help: string;
  /** Inclusive bounds for 'int' values. */
  readonly min?: number;
  readonly max?: number;
  /** Allowed values for 'string' options. */
  readonly choices?: readonly string[];
  /** Internal flags (daemon plumbing) are accepted but not shown in help. */
  readonly hidden?: boolean;
}

export type OptionValue = boolean | string | number;

export interface ParsedArgs {
  /** Values by long name; absent when the flag was not given. */
  readonly values: ReadonlyMap<string, OptionValue>;
  readonly positionals: readonly string[];
}

function invalid(message: string): UcError {
  return new UcError('UC_INVALID_ARGUMENT', message);
}

function flagLabel(spec: OptionSpec): string {
  return `--${spec.name}`;
}

/** Converts the text after a flag to its typed value, or throws naming the flag. */
export function convertValue(spec: OptionSpec, text: string): OptionValue {
  switch (spec.kind) {
    case 'boolean':
      throw invalid(`option ${flagLabel(spec)} takes no value`);
    case 'string':
      if (text === '') throw invalid(`option ${flagLabel(spec)} needs a non-empty value`);
      if (spec.choices && !spec.choices.includes(text)) {
        throw invalid(
          `option ${flagLabel(spec)}: '${text}' is not one of ${spec.choices.join(', ')}`,
        );
      }
      return text;
    case 'size':
      try {
        return parseSize(text);
      } catch (err) {
        throw invalid(`option ${flagLabel(spec)}: ${(err as Error).message}`);
      }
    case 'int': {
      if (!/^\d+$/.test(text)) {
        throw invalid(`option ${flagLabel(spec)}: '${text}' is not a non-negative integer`);
      }
      const value = Number(text);
      if (!Number.isSafeInteger(value)) throw invalid(`option ${flagLabel(spec)}: '${text}' is too large`);
      if (spec.min !== undefined && value < spec.min) {
        throw invalid(`option ${flagLabel(spec)}: ${value} is below the minimum ${spec.min}`);
      }
      if (spec.max !== undefined && value > spec.max) {
        throw invalid(`option ${flagLabel(spec)}: ${value} is above the maximum ${spec.max}`);
      }
      return value;
    }
  }
}

/**
 * Parses argv against `specs`. `maxPositionals` bounds stray words (most
 * commands take none) so a typo such as `del 3` is reported, not ignored.
 */
export function parseArgs(
  argv: readonly string[],
  specs: readonly OptionSpec[],
  maxPositionals = 0,
): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short as string, s]));
  const values = new Map<string, OptionValue>();
  const positionals: string[] = [];
  let i = 0;
  const takeValue = (spec: OptionSpec, inline: string | undefined): string => {
    if (inline !== undefined) return inline;
    i += 1;
    if (i >= argv.length) throw invalid(`option ${flagLabel(spec)} needs a value`);
    return argv[i];
  };
  const store = (spec: OptionSpec, value: OptionValue): void => {
    if (values.has(spec.name)) throw invalid(`option ${flagLabel(spec)} given more than once`);
    values.set(spec.name, value);
  };

  for (; i < argv.length; i += 1) {
    const word = argv[i];
    if (word === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      const name = eq === -1 ? word.slice(2) : word.slice(2, eq);
      const inline = eq === -1 ? undefined : word.slice(eq + 1);
      const spec = byLong.get(name);
      if (!spec) throw invalid(`unknown option '--${name}' (see --help)`);
      if (spec.kind === 'boolean') {
        if (inline !== undefined) throw invalid(`option ${flagLabel(spec)} takes no value`);
        store(spec, true);
      } else {
        store(spec, convertValue(spec, takeValue(spec, inline)));
      }
    } else if (word.startsWith('-') && word.length > 1) {
      const letter = word[1];
      const spec = byShort.get(letter);
      if (!spec) throw invalid(`unknown option '-${letter}' (see --help)`);
      const rest = word.slice(2);
      if (spec.kind === 'boolean') {
        if (rest !== '') throw invalid(`unknown option '${word}' (see --help)`);
        store(spec, true);
      } else {
        store(spec, convertValue(spec, takeValue(spec, rest === '' ? undefined : rest)));
      }
    } else {
      positionals.push(word);
    }
  }
  if (positionals.length > maxPositionals) {
    throw invalid(`unexpected argument '${positionals[maxPositionals]}' (see --help)`);
  }
  return { values, positionals };
}

/** Typed accessors: they assert the kind the command declared. */
export function getString(args: ParsedArgs, name: string): string | undefined {
  const v = args.values.get(name);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new TypeError(`option --${name} is not a string`);
  return v;
}

export function getNumber(args: ParsedArgs, name: string): number | undefined {
  const v = args.values.get(name);
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw new TypeError(`option --${name} is not a number`);
  return v;
}

export function getFlag(args: ParsedArgs, name: string): boolean {
  const v = args.values.get(name);
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new TypeError(`option --${name} is not a flag`);
  return v;
}

export function requireOption<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw invalid(`missing required option --${name} (see --help)`);
  return value;
}
