// `estimate PATH...`: what a packed pool would need for existing data (files,
// directories, block devices), computed with the engine's own same-fill test,
// fingerprints, codec and fragment layout (src/engine/estimate.ts). Nothing
// is written.

import { getFlag, getString, type ParsedArgs } from '../args.js';
import { HELP_OPTION, type Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { expandInputs, readChunks } from '../estimate-input.js';
import { progressSink } from '../progress.js';
import { COMPRESS_CHOICES, type CompressChoice } from '../../server/config.js';
import { Estimator, predict, type EstimatePrediction, type EstimateTotals } from '../../engine/index.js';
import { UcError } from '../../util/errors.js';
import { formatBytes } from '../../util/units.js';

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

export function renderEstimate(files: number, t: EstimateTotals, p: EstimatePrediction): string {
  const rows: Array<[string, string]> = [
    ['scanned', `${files} file(s), ${formatBytes(t.blocks * 4096)} (${t.blocks} blocks of 4 KiB)`],
    ['same-fill blocks', `${t.sameFillBlocks} (${pct(p.sameFillShare)}): no data stored`],
    ['dedup', `${t.dedupBlocks} duplicate blocks (${pct(p.dedupShare)} of the others)`],
    ['unique blocks', `${t.uniqueBlocks}: ${t.compressedBlocks} compressed, ${t.rawBlocks} stored raw`],
    ['compression ratio', `${p.compressionRatio.toFixed(2)}:1`],
    ['stored', formatBytes(t.storedBytes)],
    ['ratio', `${p.ratio.toFixed(2)}:1 (scanned / stored)`],
    ['pool size', `${formatBytes(p.poolBytes)} (whole 4 MiB segments; plus metadata and room for the compactor)`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}\n`).join('');
}

export const estimateCommand: Command = {
  name: 'estimate',
  summary: 'predict ratio, dedup share and pool size for existing data without writing anything',
  usage: 'estimate [--json] [--dedup on|off] [--compress lz4|none] PATH...',
  description:
    'Reads files, directories (their regular files, recursively, not following\n' +
    'symbolic links) and block devices, and runs each 4 KiB block through what a\n' +
    'packed pool would do: same-fill detection, XXH128 dedup, the codec with its\n' +
    'raw fallback, 16-byte aligned fragments. A file is counted as a device would\n' +
    'hold it: its last partial block padded. Memory grows with the distinct blocks\n' +
    '(about 100 bytes each). A progress bar is drawn on a terminal, a line every\n' +
    '10 s elsewhere.',
  options: [
    HELP_OPTION,
    { name: 'json', kind: 'boolean', help: 'print the totals and predictions as one JSON object' },
    { name: 'dedup', kind: 'string', valueName: 'MODE', choices: ['on', 'off'], help: 'count dedup (default on; verify counts as on)' },
    { name: 'compress', kind: 'string', valueName: 'CODEC', choices: COMPRESS_CHOICES, help: 'lz4 (default) or none' },
  ],
  maxPositionals: 4096,
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    if (args.positionals.length === 0) throw new UcError('UC_INVALID_ARGUMENT', 'give at least one PATH (see --help)');
    const inputs = expandInputs(args.positionals);
    const est = new Estimator({
      dedup: getString(args, 'dedup') !== 'off',
      compression: (getString(args, 'compress') ?? 'lz4') as CompressChoice,
    });
    const total = inputs.reduce((n, f) => n + f.sizeBytes, 0);
    const progress = progressSink(process.stderr, { label: 'estimate' });
    let done = 0;
    try {
      for (const file of inputs) {
        await readChunks(file, (chunk) => {
          est.add(chunk);
          done += chunk.length;
          progress.update(Math.round(done / 1048576), Math.round(total / 1048576), 'MiB');
        });
      }
    } finally {
      progress.finish();
    }
    const totals = est.totals();
    const prediction = predict(totals);
    if (getFlag(args, 'json')) io.out(`${JSON.stringify({ files: inputs.length, bytes: done, totals, prediction }, null, 2)}\n`);
    else io.out(renderEstimate(inputs.length, totals, prediction));
    return EXIT_OK;
  },
};
