#ifndef UBLK_NATIVE_CODEC_BATCH_H_
#define UBLK_NATIVE_CODEC_BATCH_H_

// The engine's byte work over a whole batch of 4 KiB blocks, one call each:
// same-fill detection + XXH128 (xxHash), lz4 compression (liblz4) into a
// caller-given buffer, lz4 decompression with fragment-header and fingerprint
// checks, the dedup verify compare, and XXH128 of any range (the write
// journal's checksums). No allocation per block; every input is bounds-checked
// (a caller bug throws a RangeError, damaged stored bytes give a per-block
// status, never a write outside the caller's buffers).
// The stored format is docs/format.md's; src/compress/native-codec.ts wraps it.

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace ublk {

// Per-block results of CodecDecode (mirrored in src/compress/native-codec.ts).
enum DecodeStatus : int32_t {
  kDecodeOk = 0,
  kDecodeBadHeader = 1,      // no fragment header (magic, length) at the offset
  kDecodeWrongExtent = 2,    // the header names another extent
  kDecodeHeaderMismatch = 3, // codec or length differ from the extent record
  kDecodeFailed = 4,         // payload truncated or not a valid block of its codec
  kDecodeUnknownCodec = 5,   // codec id this build does not know
  kDecodeFingerprint = 6,    // decoded, but XXH128 differs from the record
};

// One stored fragment (header + payload, `avail` bytes from `frag`) checked
// against its extent record and decoded into out[0, 4096), then, when
// `fingerprint` is given, its XXH128 compared with those 16 bytes. On any
// failure out is zero-filled. The native packed read path uses it.
DecodeStatus DecodeStored(const uint8_t* frag, size_t avail, uint64_t extent_id, uint32_t codec_id,
                          uint32_t stored_bytes, const uint8_t* fingerprint, uint8_t* out);

// Room CompressBlock needs at `out`: lz4's bound for a 4 KiB block.
constexpr size_t kCompressOutBytes = 4096 + 4096 / 255 + 16;

// lz4 of one 4 KiB block into out[0, kCompressOutBytes), as codecCompress does
// it: its length, or 0 when the output would exceed `limit` bytes (the block is
// then stored raw).
size_t CompressBlock(const uint8_t* block, uint8_t* out, size_t limit);

// A block that repeats its first 8 bytes (a same-fill block: stored as a map value).
bool IsSameFillBlock(const uint8_t* block);

// The dedup verify compare: 1 when `stored` payload bytes of `codec` decode to
// exactly want[0, 4096), 0 when to other bytes, -1 when they do not decode.
int MatchStoredBlock(uint32_t codec, const uint8_t* payload, size_t stored, const uint8_t* want);

// XXH128 of a 4 KiB block, canonical (big-endian) form: the dedup fingerprint.
void FingerprintBlock(const uint8_t* block, uint8_t* out);

// XXH128 of `length` bytes into out[0, 16), canonical form (the journal's checksums).
void HashBytes(const uint8_t* src, size_t length, uint8_t* out);

// Registers codecScan, codecCompress, codecDecode, codecMatch and codecInfo on exports.
void InitCodecBatch(Napi::Env env, Napi::Object exports);

}  // namespace ublk

#endif  // UBLK_NATIVE_CODEC_BATCH_H_
