// The datasets of the engine benchmark: the filesystem-like corpus first (the
// headline figures), then the nine fio-like matrix cells. Each is produced on
// demand so only one dataset's bytes are in memory at a time.
import { loadFsImage } from '../corpus/cache.js';
import { generateSynthetic, syntheticMatrix, syntheticName } from '../corpus/synthetic.js';
import { benchCacheDir } from '../paths.js';
import { BLOCK_BYTES, formatBytes } from '../../src/util/units.js';
import type { EngineBenchOptions } from './options.js';

export interface Dataset {
  name: string;
  description: string;
  load(): { data: Buffer; note: string };
}

export const FS_DATASET = 'fs-usr';

export function engineDatasets(o: EngineBenchOptions): Dataset[] {
  const list: Dataset[] = [
    {
      name: FS_DATASET,
      description: `files of /usr/lib, /usr/share, /usr/include laid out 4 KiB-aligned, ` +
        `${formatBytes(o.corpusBytes)} minimum, seed ${o.seed}`,
      load: () => {
        const cached = loadFsImage({ sizeBytes: o.corpusBytes, seed: o.seed }, benchCacheDir(),
          o.rebuildCorpus);
        const files = cached.image.files.length;
        const note = `${files} files, sha256 ${cached.sha256.slice(0, 16)}` +
          (cached.fromCache ? ', from cache' : ', built now');
        return { data: cached.image.data, note };
      },
    },
  ];
  if (!o.matrix) return list;
  for (const spec of syntheticMatrix(o.cellBytes / BLOCK_BYTES, o.seed)) {
    list.push({
      name: syntheticName(spec.dedupePercent, spec.compressPercent),
      description: `fio-like: dedupe_percentage=${spec.dedupePercent}, ` +
        `buffer_compress_percentage=${spec.compressPercent}, chunk 512, seed ${spec.seed}`,
      load: () => ({ data: generateSynthetic(spec), note: `seed ${spec.seed}` }),
    });
  }
  return list;
}
