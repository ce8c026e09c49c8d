// Where the parts of a LevelDB table file (.ldb) lie, from its footer: data
// blocks, the bloom filter block, the metaindex block, the index block, the
// footer itself. Lets the campaign aim flips at the filter and index blocks.
// Format: leveldb/doc/table_format.md (block handle = varint64 offset, size;
// every block is followed by a 5-byte trailer: compression type + crc32c).

export interface TableRegions {
  data: [number, number];
  filter?: [number, number];
  metaindex: [number, number];
  index: [number, number];
  footer: [number, number];
}

const FOOTER_BYTES = 48;
const TRAILER_BYTES = 5;
const MAGIC = Buffer.from([0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb]);
const FILTER_KEY_PREFIX = 'filter.';

function varint(b: Buffer, at: { pos: number }): number {
  let n = 0;
  let mul = 1;
  for (;;) {
    const byte = b[at.pos++];
    if (byte === undefined) throw new Error('varint runs past the buffer');
    n += (byte & 0x7f) * mul;
    if ((byte & 0x80) === 0) return n;
    mul *= 128;
  }
}

function handle(b: Buffer, at: { pos: number }): [number, number] {
  const off = varint(b, at);
  const size = varint(b, at);
  return [off, off + size + TRAILER_BYTES];
}

/** Parses a table's footer and metaindex; throws if the file is not a table. */
export function tableRegions(file: Buffer): TableRegions {
  const footerAt = file.length - FOOTER_BYTES;
  if (footerAt < 0 || !file.subarray(file.length - 8).equals(MAGIC)) throw new Error('not a LevelDB table');
  const at = { pos: footerAt };
  const metaindex = handle(file, at);
  const index = handle(file, at);
  let filter: [number, number] | undefined;
  // The metaindex is tiny and stored uncompressed (type 0) in practice; parse its first entry.
  const contentsEnd = metaindex[1] - TRAILER_BYTES;
  if (file[contentsEnd] === 0) {
    const e = { pos: metaindex[0] };
    const shared = varint(file, e);
    const keyLen = varint(file, e);
    varint(file, e); // value length
    const key = file.subarray(e.pos, e.pos + keyLen).toString('latin1');
    e.pos += keyLen;
    if (shared === 0 && key.startsWith(FILTER_KEY_PREFIX)) filter = handle(file, e);
  }
  return { data: [0, filter?.[0] ?? metaindex[0]], filter, metaindex, index, footer: [footerAt, file.length] };
}
