// The 'none' codec: never compresses, so every block is stored raw. Used for
// incompressible workloads and to measure the engine without lz4.
import assert from 'node:assert';
import { BLOCK_BYTES } from '../util/units.js';
import { CODEC_RAW, type Codec } from './codec.js';

export class RawCodec implements Codec {
  readonly id = CODEC_RAW;
  readonly name = 'none';

  compress(block: Buffer): Buffer | undefined {
    assert.equal(block.length, BLOCK_BYTES);
    return undefined;
  }

  decompress(payload: Buffer, out: Buffer, outOffset: number): void {
    if (payload.length !== BLOCK_BYTES) {
      throw new Error(`raw payload is ${payload.length} bytes, expected ${BLOCK_BYTES}`);
    }
    payload.copy(out, outOffset);
  }
}
