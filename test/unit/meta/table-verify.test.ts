// LevelDB table checksums verified without LevelDB (src/meta/table-verify.ts):
// an intact table passes, a flipped byte anywhere in a block is found.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, describe, expect, it } from 'vitest';
import { snappyDecompress, verifyTable } from '../../../src/meta/table-verify.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uc-tables-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function tableFile(): Promise<Buffer> {
  const d = path.join(dir, 'db');
  const db = new ClassicLevel<Buffer, Buffer>(d, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  const batch = db.batch();
  for (let i = 0; i < 6000; i++) {
    const k = Buffer.alloc(9);
    k[0] = 0x4c;
    k.writeUInt32BE(i, 5);
    const v = Buffer.alloc(i % 3 === 0 ? 31 : 9, i & 0xff); // compressible and not
    if (i % 3 === 0) for (let j = 15; j < 31; j++) v[j] = (i * 7919 + j * 104729) & 0xff;
    batch.put(k, v);
  }
  await batch.write({ sync: true });
  await db.close();
  const again = new ClassicLevel(d); // recovery writes the log into a table
  await again.open();
  await again.close();
  const tables = fs.readdirSync(d).filter((n) => n.endsWith('.ldb'));
  expect(tables).toHaveLength(1);
  return fs.readFileSync(path.join(d, tables[0]));
}

describe('LevelDB table verification', () => {
  it('passes an intact table and finds a flipped byte in any block', async () => {
    const t = await tableFile();
    expect(verifyTable(t)).toEqual([]);
    let found = 0;
    const at = Array.from({ length: 40 }, (_, i) => Math.floor(((i + 0.5) * (t.length - 48)) / 40));
    for (const p of at) {
      const b = Buffer.from(t);
      b[p] ^= 0x20;
      if (verifyTable(b).length > 0) found += 1;
    }
    expect(found).toBe(at.length);
    const footer = Buffer.from(t);
    footer[footer.length - 1] ^= 1;
    expect(verifyTable(footer)).toEqual(['bad footer magic']);
  });

  it('decompresses snappy literals and copies', () => {
    // length 10, literal "abcd", copy (offset 4, length 6)
    const src = Buffer.from([10, 3 << 2, 0x61, 0x62, 0x63, 0x64, 1 | (2 << 2), 4]);
    expect(snappyDecompress(src).toString()).toBe('abcdabcdab');
    expect(() => snappyDecompress(Buffer.from([10, 3 << 2, 0x61]))).toThrow();
  });
});
