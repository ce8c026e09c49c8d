import { describe, expect, it } from 'vitest';
import { parseArgs, type OptionSpec } from '../../../src/cli/args.js';
import { UcError } from '../../../src/util/errors.js';

const SPECS: OptionSpec[] = [
  { name: 'backing', short: 'b', kind: 'string', help: '' },
  { name: 'size', short: 's', kind: 'size', help: '' },
  { name: 'depth', kind: 'int', min: 1, max: 4096, help: '' },
  { name: 'layout', kind: 'string', choices: ['direct', 'packed'], help: '' },
  { name: 'json', kind: 'boolean', help: '' },
  { name: 'number', short: 'n', kind: 'int', help: '' },
];

function fails(argv: string[], pattern: RegExp, maxPositionals = 0): void {
  let caught: unknown;
  try {
    parseArgs(argv, SPECS, maxPositionals);
  } catch (err) {
    caught = err;
  }
  expect(caught, argv.join(' ')).toBeInstanceOf(UcError);
  expect((caught as UcError).code).toBe('UC_INVALID_ARGUMENT');
  expect((caught as UcError).message).toMatch(pattern);
}

describe('parseArgs', () => {
  it('accepts long, inline, short and glued short forms', () => {
    const a = parseArgs(['--backing', 'x.img', '--size=1G', '-n3', '--json', '--depth', '16'], SPECS);
    expect(a.values.get('backing')).toBe('x.img');
    expect(a.values.get('size')).toBe(1024 ** 3);
    expect(a.values.get('number')).toBe(3);
    expect(a.values.get('json')).toBe(true);
    expect(a.values.get('depth')).toBe(16);
    const b = parseArgs(['-b', 'y', '-s', '512M'], SPECS);
    expect(b.values.get('backing')).toBe('y');
    expect(b.values.get('size')).toBe(512 * 1024 ** 2);
  });

  it('names an unknown flag, long or short', () => {
    fails(['--bogus'], /unknown option '--bogus'/);
    fails(['--bogus=1'], /unknown option '--bogus'/);
    fails(['-x'], /unknown option '-x'/);
  });

  it('rejects missing values, values on booleans, repeats and strays', () => {
    fails(['--backing'], /--backing needs a value/);
    fails(['--json=yes'], /--json takes no value/);
    fails(['--depth', '1', '--depth', '2'], /more than once/);
    fails(['stray'], /unexpected argument 'stray'/);
    expect(parseArgs(['one'], SPECS, 1).positionals).toEqual(['one']);
    expect(parseArgs(['--', '--json'], SPECS, 1).positionals).toEqual(['--json']);
  });

  it('validates typed values and names the flag', () => {
    fails(['--size', 'lots'], /--size: cannot parse size 'lots'/);
    fails(['--depth', '0'], /--depth: 0 is below the minimum 1/);
    fails(['--depth', '5000'], /--depth: 5000 is above the maximum 4096/);
    fails(['--depth', '-3'], /--depth.*not a non-negative integer/);
    fails(['--depth', '1.5'], /not a non-negative integer/);
    fails(['--layout', 'zip'], /'zip' is not one of direct, packed/);
    fails(['--backing', ''], /non-empty/);
  });
});
