// The `check` command over a real pool: clean exit 0, and a damaged fragment
// reported with a non-zero status.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../../../src/cli/args.js';
import { checkCommand } from '../../../src/cli/commands/check.js';
import { memoryIo } from '../../../src/cli/io.js';
import { formatPool } from '../../../src/engine/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uc-check-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('check command', () => {
  it('exits 0 on a clean pool and non-zero on a damaged one', async () => {
    const backingPath = path.join(dir, 'p.img');
    const e = await formatPool({ backingPath, logicalBytes: 64 * 4096, segmentBytes: 65536, flushDelayMs: 0 });
    const data = Buffer.alloc(8 * 4096);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 9)) & 0xff;
    await e.write(0, 8, data, true);
    await e.close();
    const run = async (): Promise<{ status: number; text: string }> => {
      const io = memoryIo();
      const args = parseArgs(['--backing', backingPath, '--json'], checkCommand.options, checkCommand.maxPositionals ?? 0);
      const status = await checkCommand.run(args, io);
      return { status, text: io.stdout.join('') };
    };
    const clean = await run();
    expect(clean.status).toBe(0);
    expect(JSON.parse(clean.text)).toMatchObject({ clean: true, counts: { mappedBlocks: 8 } });
    const fd = fs.openSync(backingPath, 'r+');
    fs.writeSync(fd, Buffer.alloc(64, 0x33), 0, 64, 4096 + 100); // inside the first fragment
    fs.closeSync(fd);
    const damaged = await run();
    expect(damaged.status).toBe(4); // problems found (check-status.ts)
    expect(JSON.parse(damaged.text).clean).toBe(false);
  });
});
