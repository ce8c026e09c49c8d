// ublk-compress(8) is generated from the --help tables: the committed page
// must be what the generator makes now (regenerate with `npm run build:ts &&
// node scripts/gen-man.mjs`), it must format without groff warnings, and it
// names every visible option of every command.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../src/cli/commands/index.js';
import { manPageText } from '../../../src/cli/man-source.js';
import { roff } from '../../../src/cli/render/man-page.js';

const PAGE = join(import.meta.dirname, '..', '..', '..', 'docs', 'ublk-compress.8');

describe('ublk-compress(8)', () => {
  it('the committed page is up to date with the option tables', async () => {
    expect(readFileSync(PAGE, 'utf8')).toBe(await manPageText());
  });

  it('formats without warnings and lists every command and visible option', async () => {
    const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-rLL=200n', PAGE], { encoding: 'utf8' });
    expect(r.error).toBeUndefined();
    expect(r.stderr).toBe('');
    const text = r.stdout.replace(/.\x08/g, ''); // overstrike bold/underline
    for (const entry of COMMANDS) {
      const cmd = await entry.load();
      expect(text).toContain(cmd.usage);
      for (const o of cmd.options) {
        if (o.hidden) continue;
        expect(text, `${cmd.name} --${o.name}`).toContain(`--${o.name}`);
      }
    }
  });

  it('escapes what roff would read as markup', () => {
    expect(roff('a\\b -x\n.start\n\'quote')).toBe('a\\eb \\-x\n\\&.start\n\\&\'quote');
  });
});
