// On-disk cache of the filesystem-like image: building it walks ~100k files,
// and /usr changes when packages are installed; reusing the cached bytes keeps
// runs on this machine comparable. The cache key covers every build option.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildFsImage,
  DEFAULT_FS_SOURCES,
  DEFAULT_MAX_FILE_BYTES,
  type FsImage,
  type FsImageOptions,
} from './fs-image.js';

const CACHE_FORMAT = 1;

interface Manifest {
  format: number;
  options: Required<FsImageOptions>;
  imageBytes: number;
  sha256: string;
  files: FsImage['files'];
  sources: FsImage['sources'];
}

export interface CachedImage {
  image: FsImage;
  fromCache: boolean;
  imagePath: string;
  sha256: string;
}

function fullOptions(options: FsImageOptions): Required<FsImageOptions> {
  return {
    sizeBytes: options.sizeBytes,
    sources: options.sources ?? DEFAULT_FS_SOURCES,
    seed: options.seed ?? 1,
    maxFileBytes: options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
  };
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The image for `options`: from `cacheDir` when present and intact, else built and stored. */
export function loadFsImage(options: FsImageOptions, cacheDir: string, rebuild = false): CachedImage {
  const opts = fullOptions(options);
  const key = createHash('sha256')
    .update(JSON.stringify({ CACHE_FORMAT, opts }))
    .digest('hex')
    .slice(0, 16);
  const imagePath = join(cacheDir, `fs-image-${key}.img`);
  const manifestPath = join(cacheDir, `fs-image-${key}.json`);
  if (!rebuild && existsSync(imagePath) && existsSync(manifestPath)) {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
    if (manifest.format === CACHE_FORMAT && statSync(imagePath).size === manifest.imageBytes) {
      const data = readFileSync(imagePath);
      const digest = sha256(data);
      if (digest === manifest.sha256) {
        const image = { data, files: manifest.files, sources: manifest.sources };
        return { image, fromCache: true, imagePath, sha256: digest };
      }
    }
  }
  const image = buildFsImage(opts);
  const digest = sha256(image.data);
  mkdirSync(cacheDir, { recursive: true });
  const manifest: Manifest = {
    format: CACHE_FORMAT,
    options: opts,
    imageBytes: image.data.length,
    sha256: digest,
    files: image.files,
    sources: image.sources,
  };
  // Write then rename: a concurrent or interrupted run never sees half a file.
  writeFileSync(imagePath + '.tmp', image.data);
  renameSync(imagePath + '.tmp', imagePath);
  writeFileSync(manifestPath + '.tmp', JSON.stringify(manifest));
  renameSync(manifestPath + '.tmp', manifestPath);
  return { image, fromCache: false, imagePath, sha256: digest };
}
