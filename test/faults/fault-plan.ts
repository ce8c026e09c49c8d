// The fault cases of one campaign: each is a list of byte-level operations on a
// fresh copy of the pristine pool directory, plus the LBAs whose stored bytes it
// changes (empty for metadata faults: no pool block is damaged there, so any EIO
// or wrong byte after them is the engine's fault). Offsets are chosen from the
// seeded PRNG and the pristine layout only, so a seed replays the same campaign.
import fs from 'node:fs';
import path from 'node:path';
import { CODEC_LZ4, CODEC_RAW } from '../../src/compress/index.js';
import { SLOT_BYTES } from '../../src/pool/format.js';
import { BLOCK_BYTES } from '../../src/util/units.js';
import { randInt } from '../engine/helpers.js';
import { tableRegions } from './ldb-layout.js';
import { FOREIGN_META, META_NAME, POOL_NAME, type LiveFragment, type Pristine } from './pristine.js';

export const FAULT_KINDS = [
  'sb-copy0', 'sb-copy1', 'sb-both', 'frag-header', 'payload-lz4', 'payload-raw', 'zero-4k',
  'unused-bytes', 'pool-truncate', 'wal-flip', 'wal-truncate', 'wal-delete', 'table-flip',
  'manifest-flip', 'manifest-delete', 'current-flip', 'current-delete', 'meta-missing',
  'meta-empty', 'meta-foreign', 'control',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Faults in the pool file (the rest damage or replace the metadata directory). */
export function isPoolFault(kind: FaultKind): boolean {
  return kind.startsWith('sb-') || kind.startsWith('payload-') || ['frag-header', 'zero-4k', 'unused-bytes', 'pool-truncate'].includes(kind);
}

export type FaultOp =
  | { op: 'flip'; file: string; offset: number; bit: number }
  | { op: 'zero'; file: string; offset: number; length: number }
  | { op: 'truncate'; file: string; length: number }
  | { op: 'delete'; file: string }
  | { op: 'copy'; from: string; to: string };

export interface FaultCase {
  index: number;
  kind: FaultKind;
  detail: string;
  ops: FaultOp[];
  /** Metadata directory handed to the engine (relative to the case directory). */
  metaDir: string;
  /** LBAs whose stored fragment bytes the fault changed. */
  damaged: Set<number>;
}

/** Superblock copy fields (docs/format.md); `reserved` covers everything up to the CRC. */
const SB_FIELDS: ReadonlyArray<readonly [string, number, number]> = [
  ['magic', 0, 8], ['version', 8, 12], ['generation', 12, 16], ['uuid', 16, 32], ['block-size', 32, 36],
  ['segment-size', 36, 40], ['logical-size', 40, 48], ['data-offset', 48, 56], ['segment-count', 56, 60],
  ['layout', 60, 61], ['reserved', 61, 64], ['durable-seq', 64, 72], ['reserved-tail', 72, SLOT_BYTES - 4],
  ['crc', SLOT_BYTES - 4, SLOT_BYTES],
];

/** Fragment header fields (src/pool/fragment.ts), offsets from the header start. */
const HEADER_FIELDS: ReadonlyArray<readonly [string, number, number]> = [
  ['magic', 0, 2], ['codec', 2, 3], ['length', 4, 6], ['extent-id', 8, 16],
];

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[randInt(r, xs.length)];
const within = (r: Rand, [a, b]: readonly [number, number]): number => a + randInt(r, b - a);

class Planner {
  readonly cases: FaultCase[] = [];
  private readonly poolBytes: Buffer;
  constructor(private readonly p: Pristine, private readonly r: Rand) {
    this.poolBytes = fs.readFileSync(path.join(p.dir, POOL_NAME));
  }

  add(kind: FaultKind, detail: string, ops: FaultOp[], damaged: Iterable<number> = [], metaDir = META_NAME): void {
    this.cases.push({ index: this.cases.length, kind, detail, ops, metaDir, damaged: new Set(damaged) });
  }

  /** LBAs of live fragments whose bytes in [a, b) are not already what the fault writes. */
  hit(a: number, b: number, zeroing: boolean): number[] {
    const out: number[] = [];
    for (const f of this.p.fragments) {
      const lo = Math.max(a, f.start);
      const hi = Math.min(b, f.end);
      if (lo >= hi) continue;
      if (zeroing && this.poolBytes.subarray(lo, hi).every((x) => x === 0)) continue;
      out.push(...f.lbas);
    }
    return out;
  }

  flipPool(kind: FaultKind, detail: string, offset: number): void {
    const bit = randInt(this.r, 8);
    this.add(kind, `${detail} @${offset} bit ${bit}`, [{ op: 'flip', file: POOL_NAME, offset, bit }], this.hit(offset, offset + 1, false));
  }

  superblock(): void {
    for (const variant of ['sb-copy0', 'sb-copy1', 'sb-both'] as const) {
      for (const [name, a, b] of SB_FIELDS) {
        const ops: FaultOp[] = [];
        for (const copy of variant === 'sb-both' ? [0, 1] : [variant === 'sb-copy0' ? 0 : 1]) {
          ops.push({ op: 'flip', file: POOL_NAME, offset: copy * SLOT_BYTES + within(this.r, [a, b]), bit: randInt(this.r, 8) });
        }
        this.add(variant, `${name} ${ops.map((o) => (o.op === 'flip' ? `@${o.offset} bit ${o.bit}` : '')).join(', ')}`, ops);
      }
    }
  }

  /** Live fragments of a codec, ordered by the first LBA that reads them: a replay
   * picks the same block even if the engine laid the pool out differently. */
  private live(codec: number): LiveFragment[] {
    return this.p.fragments.filter((f) => f.codecId === codec && f.lbas.length > 0).sort((a, b) => Math.min(...a.lbas) - Math.min(...b.lbas));
  }

  private static name(f: LiveFragment): string {
    return `extent ${f.extentId} of lba ${Math.min(...f.lbas)}${f.lbas.length > 1 ? ` (+${f.lbas.length - 1} sharing)` : ''}, codec ${f.codecId}, ${f.storedBytes} B`;
  }

  fragments(): void {
    const lz4 = this.live(CODEC_LZ4);
    const raw = this.live(CODEC_RAW);
    for (const [name, a, b] of HEADER_FIELDS) {
      for (let k = 0; k < 6; k++) {
        const f = pick(this.r, k % 2 === 0 ? lz4 : raw);
        this.flipPool('frag-header', `${name} of ${Planner.name(f)}`, f.start + within(this.r, [a, b]));
      }
    }
    const payload = (kind: FaultKind, from: LiveFragment[], n: number): void => {
      for (let k = 0; k < n; k++) {
        const f = pick(this.r, from);
        this.flipPool(kind, `payload of ${Planner.name(f)}`, within(this.r, [f.end - f.storedBytes, f.end]));
      }
    };
    payload('payload-lz4', lz4, 35);
    payload('payload-raw', raw, 25);
  }

  private zeroRegion(at: number, why: string): void {
    const length = Math.min(BLOCK_BYTES, this.p.poolBytes - at);
    this.add('zero-4k', `[${at}, +${length}) ${why}`, [{ op: 'zero', file: POOL_NAME, offset: at, length }], this.hit(at, at + length, true));
  }

  regions(): void {
    const live = [...this.live(CODEC_LZ4), ...this.live(CODEC_RAW)];
    for (let k = 0; k < 16; k++) {
      const f = pick(this.r, live);
      const at = within(this.r, [f.start, f.end]);
      this.zeroRegion(at - (at % BLOCK_BYTES), `holding ${Planner.name(f)}`);
    }
    for (let k = 0; k < 4; k++) {
      const s = pick(this.r, this.p.segments);
      this.zeroRegion(s.start + BLOCK_BYTES * randInt(this.r, Math.max(1, Math.ceil(s.fill / BLOCK_BYTES))), `in segment ${s.segment}`);
    }
    const inSegments = this.p.unused.flatMap(([a, b]) => this.p.segments
      .map((s): [number, number] => [Math.max(a, s.start), Math.min(b, s.start + s.fill)])
      .filter(([x, y]) => x < y));
    for (let k = 0; k < 12; k++) {
      const range = pick(this.r, k < 8 && inSegments.length > 0 ? inSegments : this.p.unused);
      this.flipPool('unused-bytes', k < 8 ? 'dead fragment or padding' : 'unused pool byte', within(this.r, range));
    }
    const lengths = [0, within(this.r, [1, 4096]), within(this.r, [1, 4096])];
    while (lengths.length < 10) lengths.push(within(this.r, [4096, this.p.poolBytes]));
    for (const length of lengths) this.add('pool-truncate', `to ${length} of ${this.p.poolBytes} bytes`, [{ op: 'truncate', file: POOL_NAME, length }]);
  }

  metadata(): void {
    const metaPath = path.join(this.p.dir, META_NAME);
    const names = fs.readdirSync(metaPath).sort();
    const sizeOf = (n: string): number => fs.statSync(path.join(metaPath, n)).size;
    const rel = (n: string): string => `${META_NAME}/${n}`;
    const logs = names.filter((n) => n.endsWith('.log')).sort((a, b) => sizeOf(b) - sizeOf(a));
    const tables = names.filter((n) => n.endsWith('.ldb'));
    const manifest = names.find((n) => n.startsWith('MANIFEST-'));
    if (logs.length === 0 || sizeOf(logs[0]) === 0 || tables.length === 0 || manifest === undefined) {
      throw new Error(`pristine metadata lacks a WAL, a table or a MANIFEST: ${names.join(' ')}`);
    }
    const flipIn = (kind: FaultKind, file: string, range: [number, number], what: string): void => {
      const offset = within(this.r, range);
      const bit = randInt(this.r, 8);
      this.add(kind, `${file} ${what} @${offset} bit ${bit}`, [{ op: 'flip', file: rel(file), offset, bit }]);
    };
    const wal = logs[0];
    for (let k = 0; k < 14; k++) flipIn('wal-flip', wal, [0, sizeOf(wal)], `of ${sizeOf(wal)} B`);
    for (let k = 0; k < 8; k++) {
      const length = within(this.r, [0, sizeOf(wal)]);
      this.add('wal-truncate', `${wal} to ${length} of ${sizeOf(wal)} B`, [{ op: 'truncate', file: rel(wal), length }]);
    }
    this.add('wal-delete', wal, [{ op: 'delete', file: rel(wal) }]);
    // Two rounds over the tables (LevelDB may have merged the sessions' tables into one).
    for (let round = 0; round < 2; round++) {
      const t = tables[round % tables.length];
      const g = tableRegions(fs.readFileSync(path.join(metaPath, t)));
      const plan: Array<[string, [number, number] | undefined, number]> = [
        ['data block', g.data, 6], ['filter block', g.filter, 4], ['index block', g.index, 3], ['metaindex', g.metaindex, 1], ['footer', g.footer, 1],
      ];
      for (const [what, range, n] of plan) {
        if (range === undefined) throw new Error(`table ${t} has no ${what}`);
        for (let k = 0; k < n; k++) flipIn('table-flip', t, range, what);
      }
    }
    for (let k = 0; k < 6; k++) flipIn('manifest-flip', manifest, [0, sizeOf(manifest)], `of ${sizeOf(manifest)} B`);
    this.add('manifest-delete', manifest, [{ op: 'delete', file: rel(manifest) }]);
    for (let k = 0; k < 4; k++) flipIn('current-flip', 'CURRENT', [0, sizeOf('CURRENT')], `of ${sizeOf('CURRENT')} B`);
    this.add('current-delete', 'CURRENT', [{ op: 'delete', file: rel('CURRENT') }]);
    this.add('meta-missing', 'metadata directory removed', [{ op: 'delete', file: META_NAME }]);
    this.add('meta-empty', 'every file of the metadata directory removed', names.map((n) => ({ op: 'delete', file: rel(n) })));
    this.add('meta-foreign', `--meta ${FOREIGN_META} (another pool's)`, [], [], FOREIGN_META);
    this.add('meta-foreign', `${META_NAME} replaced by a copy of ${FOREIGN_META}`, [
      { op: 'delete', file: META_NAME }, { op: 'copy', from: FOREIGN_META, to: META_NAME },
    ]);
    this.add('control', 'no fault', []);
    this.add('control', 'no fault (second copy)', []);
  }
}

/** Every case of the campaign, in a fixed order for this pristine pool and PRNG. */
export function planFaults(p: Pristine, r: Rand): FaultCase[] {
  const planner = new Planner(p, r);
  planner.superblock();
  planner.fragments();
  planner.regions();
  planner.metadata();
  return planner.cases;
}

/** Applies a case's operations to a fresh copy of the pristine directory. */
export function applyFault(c: FaultCase, dir: string): void {
  for (const o of c.ops) {
    if (o.op === 'copy') {
      fs.cpSync(path.join(dir, o.from), path.join(dir, o.to), { recursive: true });
      continue;
    }
    const file = path.join(dir, o.file);
    if (o.op === 'delete') fs.rmSync(file, { recursive: true });
    else if (o.op === 'truncate') fs.truncateSync(file, o.length);
    else {
      const fd = fs.openSync(file, 'r+');
      try {
        const b = o.op === 'zero' ? Buffer.alloc(o.length) : Buffer.alloc(1);
        if (o.op === 'flip') {
          fs.readSync(fd, b, 0, 1, o.offset);
          b[0] ^= 1 << o.bit;
        }
        fs.writeSync(fd, b, 0, b.length, o.offset);
      } finally {
        fs.closeSync(fd);
      }
    }
  }
}
