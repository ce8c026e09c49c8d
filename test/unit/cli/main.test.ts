// The CLI through main(): help, version, every argument error and the host's
// "no ublk" path, with the exact one-line message and exit status.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ADD_OPTIONS } from '../../../src/cli/add-config.js';
import { COMMANDS } from '../../../src/cli/commands/index.js';
import { EXIT_CODE_TABLE } from '../../../src/cli/exit-codes.js';
import { memoryIo } from '../../../src/cli/io.js';
import { main } from '../../../src/cli/main.js';

const dir = mkdtempSync(join(tmpdir(), 'ublk-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(argv, io);
  return { code, out: io.stdout.join(''), err: io.stderr.join('') };
}

function oneLine(err: string): string {
  expect(err.endsWith('\n')).toBe(true);
  expect(err.trimEnd().split('\n')).toHaveLength(1);
  expect(err.startsWith('ublk-compress: ')).toBe(true);
  return err;
}

const hostHasUblk = existsSync('/dev/ublk-control');

describe('help and version', () => {
  it('top-level --help lists every command and the exit codes', async () => {
    for (const flag of ['--help', '-h']) {
      const r = await run(flag);
      expect(r.code).toBe(0);
      for (const c of COMMANDS) expect(r.out).toContain(`  ${c.name} `);
      for (const [code] of EXIT_CODE_TABLE) expect(r.out).toMatch(new RegExp(`\\n +${code}  `));
    }
  });

  it('--version prints the package version', async () => {
    const r = await run('--version');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ublk-compress \d+\.\d+\.\d+\n$/);
  });

  it('every command has --help and -h showing each visible flag, no hidden one', async () => {
    for (const entry of COMMANDS) {
      const c = await entry.load();
      expect(c.name).toBe(entry.name);
      expect(c.summary, 'registry summary matches the module').toBe(entry.summary);
      for (const flag of ['--help', '-h']) {
        const r = await run(c.name, flag);
        expect(r.code, `${c.name} ${flag}`).toBe(0);
        expect(r.out).toContain(`Usage: ublk-compress ${c.usage}`);
        for (const o of c.options) {
          if (o.hidden) expect(r.out).not.toContain(`--${o.name}`);
          else expect(r.out).toContain(`--${o.name}`);
        }
      }
    }
    expect(ADD_OPTIONS.some((o) => o.hidden)).toBe(true);
  });

  it('--help wins over other mistakes on the same line', async () => {
    const r = await run('add', '--bogus', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: ublk-compress add');
  });
});

describe('usage errors: one line, exit 2, nothing created', () => {
  const backing = join(dir, 'never.img');
  const cases: Array<[string[], RegExp]> = [
    [[], /missing command/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['--bogus'], /unknown option '--bogus'/],
    [['add', '--backing', backing, '--size', '1G', '--layout', 'direct', '--bogus'], /unknown option '--bogus'/],
    [['add', '--size', '1G', '--layout', 'direct'], /missing required option --backing/],
    [['add', '--backing', backing, '--size', '12 parsecs', '--layout', 'direct'], /--size: cannot parse size '12 parsecs'/],
    [['add', '--backing', backing, '--size', '512K', '--layout', 'direct'], /below the minimum of 1 MiB/],
    [['add', '--backing', backing, '--size', '1049088', '--layout', 'direct'], /not a multiple of 4 KiB/],
    [['add', '--backing', backing, '--size', '1G', '--layout', 'zip'], /'zip' is not one of direct, packed/],
    [['add', '--backing', backing, '--size', '1G', '--layout', 'direct', '--queues', '0'], /--queues: 0 is below/],
    [['add', '--backing', backing, '--size', '1G', '--layout', 'direct', '--depth', '9999'], /--depth: 9999 is above/],
    [['list', '--jsn'], /unknown option '--jsn'/],
    [['del'], /exactly one of -n ID or --all/],
    [['del', '-n', '1', '--all'], /exactly one of -n ID or --all/],
    [['del', '-n', 'x'], /'x' is not a non-negative integer/],
    [['del', '3'], /unexpected argument '3'/],
  ];
  it.each(cases)('%j', async (argv, pattern) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(oneLine(r.err)).toMatch(pattern);
    expect(r.out).toBe('');
    expect(existsSync(backing)).toBe(false);
  });
});

describe('environment errors', () => {
  it('not root: exit 3, checked before anything else about the system', async () => {
    vi.spyOn(process, 'getuid').mockReturnValue(1000);
    const backing = join(dir, 'nonroot.img');
    const r = await run('add', '--backing', backing, '--size', '64M', '--layout', 'direct');
    expect(r.code).toBe(3);
    expect(oneLine(r.err)).toMatch(/must be run as root/);
    expect(existsSync(backing)).toBe(false);
  });

  it('a bad --backing is a usage error (2) before root or the kernel is checked', async () => {
    vi.spyOn(process, 'getuid').mockReturnValue(1000);
    for (const [argv, message] of [
      [['add', '--backing', dir, '--size', '64M'], /is a directory/],
      [['add', '--backing', dir, '--size', '64M', '--layout', 'direct'], /is a directory/],
      [['add', '--backing', join(dir, 'no', 'such', 'x.img'), '--size', '64M'], /does not exist/],
      [['add', '--backing', '/dev/null', '--size', '64M'], /neither a regular file nor a block device/],
    ] as const) {
      const r = await run(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(oneLine(r.err)).toMatch(message);
    }
  });

  it.runIf(!hostHasUblk)('no ublk in the kernel: exit 4 and says modprobe ublk_drv', async () => {
    const backing = join(dir, 'noublk.img');
    for (const argv of [
      ['add', '--backing', backing, '--size', '64M', '--layout', 'direct'],
      ['list'],
      ['list', '--json'],
      ['del', '-n', '0'],
      ['del', '--all'],
    ]) {
      const r = await run(...argv);
      expect(r.code, argv.join(' ')).toBe(4);
      expect(oneLine(r.err)).toMatch(/no ublk support.*modprobe ublk_drv/);
    }
    expect(existsSync(backing)).toBe(false);
    expect(existsSync(join(dir, 'noublk.img.meta'))).toBe(false);
  });
});
