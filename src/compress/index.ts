// Codec registry: the engine compresses with one codec and decodes any known id.
import { UcError } from '../util/errors.js';
import { CODEC_LZ4, CODEC_RAW, type Codec } from './codec.js';
import { Lz4Codec } from './lz4.js';
import { RawCodec } from './none.js';

export { CODEC_LZ4, CODEC_RAW, encodeBlock, type Codec, type StoredForm } from './codec.js';
export { Lz4Codec } from './lz4.js';
export {
  BatchDecoder, BatchEncoder, hashInto, matchStored, scanBlocks, scannedFingerprint, stagingBytes, type BatchScan, type DecodeFailure,
  type MatchResult, type StoredExtent,
} from './batch-codec.js';
export { RawCodec } from './none.js';

export type CompressionName = 'lz4' | 'none';

/** The codec used to compress new blocks. */
export function codecByName(name: CompressionName): Codec {
  if (name === 'lz4') return new Lz4Codec();
  if (name === 'none') return new RawCodec();
  throw new UcError('UC_INVALID_ARGUMENT', `unknown compression '${String(name)}' (lz4|none)`);
}

/** Decoders for every codec id a pool may contain. */
export class CodecSet {
  private readonly byId = new Map<number, Codec>([
    [CODEC_RAW, new RawCodec()],
    [CODEC_LZ4, new Lz4Codec()],
  ]);

  /** Decodes one stored payload into out[outOffset..+4096). */
  decode(codecId: number, payload: Buffer, out: Buffer, outOffset: number): void {
    const codec = this.byId.get(codecId);
    if (codec === undefined) {
      throw new UcError('UC_POOL_CORRUPT', `unknown codec id ${codecId}`);
    }
    codec.decompress(payload, out, outOffset);
  }
}
