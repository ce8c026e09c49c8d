// Batch codec: the write and read paths' byte work in one call per batch
// (see codec-batch.h). liblz4 and libxxhash are Debian's reference libraries;
// lz4-napi and xxhash-addon stay the independent implementation `check` uses,
// and test/native/codec-batch.test.ts proves both read and write the same bytes.
#include "codec-batch.h"

#include <lz4.h>
#include <xxhash.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace ublk {

namespace {

constexpr size_t kBlockBytes = 4096;
constexpr size_t kFillPatternBytes = 8;
constexpr size_t kFingerprintBytes = 16;
constexpr size_t kHeaderBytes = 16;  // fragment header, docs/format.md
constexpr uint16_t kFragmentMagic = 0x5546;
constexpr uint8_t kCodecRaw = 0;
constexpr uint8_t kCodecLz4 = 1;
constexpr size_t kDescFields = 6;  // srcIndex, fragOffset, extentId, codecId, storedBytes, outOffset
constexpr int kCompressBound = LZ4_COMPRESSBOUND(kBlockBytes);

static_assert(sizeof(XXH128_canonical_t) == kFingerprintBytes, "XXH128 is 16 bytes");

// The compressor's stream, one per thread (CodecCompress).
thread_local LZ4_stream_t stream_storage;
static_assert(kCompressBound > static_cast<int>(kBlockBytes), "lz4 bound covers a block");

template <typename T>
struct Span {
  T* data;
  size_t size;  // elements
};

// A typed-array argument of exactly the given element type.
template <typename T>
Span<T> ArgArray(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type, const char* what) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " has the wrong array type");
  }
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  auto* base = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  return Span<T>{reinterpret_cast<T*>(base), ta.ElementLength()};
}

Span<uint8_t> ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* what) {
  return ArgArray<uint8_t>(info, i, napi_uint8_array, what);
}

// A non-negative integer argument (a safe JS integer).
size_t ArgCount(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 9007199254740991.0) || std::floor(d) != d) {
    throw Napi::RangeError::New(info.Env(), std::string(what) + " must be a non-negative integer");
  }
  return static_cast<size_t>(d);
}

void Require(Napi::Env env, bool ok, const std::string& what) {
  if (!ok) throw Napi::RangeError::New(env, what);
}

// A block that repeats its first 8 bytes (src/dedup/same-fill.ts): it equals
// itself shifted by 8 bytes; the 8-byte test first rejects almost every data block.
bool IsSameFill(const uint8_t* b) {
  if (memcmp(b, b + kFillPatternBytes, kFillPatternBytes) != 0) return false;
  return memcmp(b + kFillPatternBytes, b, kBlockBytes - kFillPatternBytes) == 0;
}

// Same bytes as xxhash-addon's XXHash128.hash (seed 0, canonical big-endian form).
void Fingerprint(const uint8_t* b, uint8_t* out) {
  XXH128_hash_t h = XXH3_128bits(b, kBlockBytes);
  XXH128_canonicalFromHash(reinterpret_cast<XXH128_canonical_t*>(out), h);
}

uint32_t ReadBe16(const uint8_t* p) { return (uint32_t{p[0]} << 8) | p[1]; }
uint32_t ReadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Decodes `stored` payload bytes of codec `codec` into out[0, 4096). False when
// the payload is not exactly one block of that codec. Never writes past 4096 bytes.
DecodeStatus DecodePayload(uint8_t codec, const uint8_t* payload, size_t stored, uint8_t* out) {
  if (codec == kCodecRaw) {
    if (stored != kBlockBytes) return kDecodeFailed;
    memcpy(out, payload, kBlockBytes);
    return kDecodeOk;
  }
  if (codec != kCodecLz4) return kDecodeUnknownCodec;
  if (stored == 0 || stored >= kBlockBytes) return kDecodeFailed;
  int n = LZ4_decompress_safe(reinterpret_cast<const char*>(payload), reinterpret_cast<char*>(out),
                              static_cast<int>(stored), static_cast<int>(kBlockBytes));
  return n == static_cast<int>(kBlockBytes) ? kDecodeOk : kDecodeFailed;
}

// codecScan(src, count, fills, fps) -> same-fill count. fills[i] = 1 for a
// same-filled block (its fingerprint slot is left alone), else 0 and
// fps[16i, 16i+16) = XXH128 of block i.
Napi::Value CodecScan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Span<uint8_t> src = ArgBytes(info, 0, "src");
  size_t count = ArgCount(info, 1, "count");
  Span<uint8_t> fills = ArgBytes(info, 2, "fills");
  Span<uint8_t> fps = ArgBytes(info, 3, "fps");
  Require(env, count <= src.size / kBlockBytes, "codecScan: src holds fewer than count blocks");
  Require(env, count <= fills.size, "codecScan: fills is shorter than count");
  Require(env, count <= fps.size / kFingerprintBytes, "codecScan: fps is shorter than count fingerprints");
  uint32_t same = 0;
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* b = src.data + i * kBlockBytes;
    if (IsSameFill(b)) {
      fills.data[i] = 1;
      same += 1;
      continue;
    }
    fills.data[i] = 0;
    Fingerprint(b, fps.data + i * kFingerprintBytes);
  }
  return Napi::Number::New(env, same);
}

// codecCompress(src, indexes, count, dst, dstOffsets, sizes, limitBytes) -> blocks
// compressed. Block indexes[k] of src is lz4-compressed; when the output is at
// most limitBytes it goes to dst[dstOffsets[k], +size) and sizes[k] = size, else
// sizes[k] = 0 (store raw) and dst is untouched. The rule is exact: the block
// is compressed in full into a scratch buffer before the size is compared.
Napi::Value CodecCompress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Span<uint8_t> src = ArgBytes(info, 0, "src");
  Span<uint32_t> indexes = ArgArray<uint32_t>(info, 1, napi_uint32_array, "indexes");
  size_t count = ArgCount(info, 2, "count");
  Span<uint8_t> dst = ArgBytes(info, 3, "dst");
  Span<uint32_t> offsets = ArgArray<uint32_t>(info, 4, napi_uint32_array, "dstOffsets");
  Span<uint32_t> sizes = ArgArray<uint32_t>(info, 5, napi_uint32_array, "sizes");
  size_t limit = ArgCount(info, 6, "limitBytes");
  Require(env, count <= indexes.size && count <= offsets.size && count <= sizes.size,
          "codecCompress: indexes, dstOffsets and sizes must hold count entries");
  Require(env, limit > 0 && limit < kBlockBytes, "codecCompress: limitBytes must be in (0, 4096)");
  uint8_t scratch[kCompressOutBytes];
  uint32_t compressed = 0;
  for (size_t k = 0; k < count; ++k) {
    size_t block = indexes.data[k];
    size_t at = offsets.data[k];
    Require(env, block < src.size / kBlockBytes, "codecCompress: block index " + std::to_string(block) + " is outside src");
    Require(env, at <= dst.size && limit <= dst.size - at, "codecCompress: dst offset " + std::to_string(at) + " leaves no room");
    size_t n = CompressBlock(src.data + block * kBlockBytes, scratch, limit);
    sizes.data[k] = static_cast<uint32_t>(n);
    if (n == 0) continue;
    memcpy(dst.data + at, scratch, n);
    compressed += 1;
  }
  return Napi::Number::New(env, compressed);
}

struct DecodeEntry {
  size_t source;
  size_t fragOffset;
  double extentId;
  double codecId;
  double storedBytes;
  size_t outOffset;
};

DecodeEntry ReadEntry(Napi::Env env, const double* d) {
  for (size_t f = 0; f < kDescFields; ++f) {
    Require(env, d[f] >= 0 && d[f] <= 9007199254740991.0 && std::floor(d[f]) == d[f], "codecDecode: bad descriptor field");
  }
  return DecodeEntry{static_cast<size_t>(d[0]), static_cast<size_t>(d[1]), d[2], d[3], d[4], static_cast<size_t>(d[5])};
}

// Checks the fragment header at frag[0, 16) against the entry, then decodes.
DecodeStatus DecodeFragment(const Span<uint8_t>& src, const DecodeEntry& e, uint8_t* out) {
  if (e.fragOffset > src.size || src.size - e.fragOffset < kHeaderBytes) return kDecodeBadHeader;
  const uint8_t* h = src.data + e.fragOffset;
  uint32_t stored = ReadBe16(h + 4);
  if (ReadBe16(h) != kFragmentMagic || stored == 0 || stored > kBlockBytes) return kDecodeBadHeader;
  double id = static_cast<double>(ReadBe32(h + 8)) * 4294967296.0 + static_cast<double>(ReadBe32(h + 12));
  if (id != e.extentId) return kDecodeWrongExtent;
  if (static_cast<double>(stored) != e.storedBytes || static_cast<double>(h[2]) != e.codecId) return kDecodeHeaderMismatch;
  size_t room = src.size - e.fragOffset - kHeaderBytes;
  if (stored > room) return kDecodeFailed;  // truncated payload
  return DecodePayload(h[2], h + kHeaderBytes, stored, out);
}

// codecDecode(sources, desc, count, out, fps, status) -> failures. Entry k of
// desc (6 doubles: source index, fragment offset, extent id, codec id, stored
// bytes, out offset) names a fragment (header + payload) in sources[source];
// it is checked against the record, decoded into out[outOffset, +4096) and,
// when fps is a buffer, its XXH128 compared with fps[16k, +16). status[k] gets
// a DecodeStatus; a failed block is zero-filled in out.
Napi::Value CodecDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "codecDecode: sources must be an array");
  Napi::Array list = info[0].As<Napi::Array>();
  Span<double> desc = ArgArray<double>(info, 1, napi_float64_array, "desc");
  size_t count = ArgCount(info, 2, "count");
  Span<uint8_t> out = ArgBytes(info, 3, "out");
  bool verify = !info[4].IsNull() && !info[4].IsUndefined();
  Span<uint8_t> fps = verify ? ArgBytes(info, 4, "fps") : Span<uint8_t>{nullptr, 0};
  Span<int32_t> status = ArgArray<int32_t>(info, 5, napi_int32_array, "status");
  Require(env, count <= desc.size / kDescFields && count <= status.size, "codecDecode: desc and status must hold count entries");
  Require(env, !verify || count <= fps.size / kFingerprintBytes, "codecDecode: fps is shorter than count fingerprints");
  // One allocation per call (a read has one slab plus the segments still in RAM).
  uint32_t nsources = list.Length();
  std::vector<Span<uint8_t>> sources(nsources);
  for (uint32_t s = 0; s < nsources; ++s) {
    Napi::Value v = list.Get(s);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(env, "codecDecode: every source must be a Uint8Array");
    }
    Napi::Uint8Array a = v.As<Napi::Uint8Array>();
    sources[s] = Span<uint8_t>{a.Data(), a.ElementLength()};
  }
  uint32_t failures = 0;
  for (size_t k = 0; k < count; ++k) {
    DecodeEntry e = ReadEntry(env, desc.data + k * kDescFields);
    Require(env, e.source < nsources, "codecDecode: source index out of range");
    Require(env, e.outOffset <= out.size && kBlockBytes <= out.size - e.outOffset, "codecDecode: out offset out of range");
    uint8_t* dst = out.data + e.outOffset;
    DecodeStatus st = DecodeFragment(sources[e.source], e, dst);
    if (st == kDecodeOk && verify) {
      uint8_t fp[kFingerprintBytes];
      Fingerprint(dst, fp);
      if (memcmp(fp, fps.data + k * kFingerprintBytes, kFingerprintBytes) != 0) st = kDecodeFingerprint;
    }
    status.data[k] = st;
    if (st != kDecodeOk) {
      memset(dst, 0, kBlockBytes);
      failures += 1;
    }
  }
  return Napi::Number::New(env, failures);
}

// codecMatch(payload, codecId, block, blockOffset) -> 1 when the payload decodes
// to exactly block[blockOffset, +4096) (the dedup verify compare), 0 when it
// decodes to other bytes, -1 when it does not decode.
Napi::Value CodecMatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Span<uint8_t> payload = ArgBytes(info, 0, "payload");
  size_t codec = ArgCount(info, 1, "codecId");
  Span<uint8_t> block = ArgBytes(info, 2, "block");
  size_t at = ArgCount(info, 3, "blockOffset");
  Require(env, at <= block.size && kBlockBytes <= block.size - at, "codecMatch: block offset out of range");
  if (codec > 0xff) return Napi::Number::New(env, -1);
  return Napi::Number::New(env, MatchStoredBlock(static_cast<uint32_t>(codec), payload.data, payload.size, block.data + at));
}

// codecHash(src, from, length, dst, at): dst[at, at+16) = XXH128 of
// src[from, from+length) in xxhash-addon's canonical bytes (any length; the
// write journal's checksums). dst may be src when the ranges do not overlap.
Napi::Value CodecHash(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Span<uint8_t> src = ArgBytes(info, 0, "src");
  size_t from = ArgCount(info, 1, "from");
  size_t length = ArgCount(info, 2, "length");
  Span<uint8_t> dst = ArgBytes(info, 3, "dst");
  size_t at = ArgCount(info, 4, "at");
  Require(env, from <= src.size && length <= src.size - from, "codecHash: source range out of bounds");
  Require(env, at <= dst.size && kFingerprintBytes <= dst.size - at, "codecHash: destination offset out of range");
  XXH128_hash_t h = XXH3_128bits(src.data + from, length);
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  memcpy(dst.data + at, &c, kFingerprintBytes);
  return env.Undefined();
}

// codecInfo() -> the library versions linked in (the bench prints them).
Napi::Value CodecInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("lz4", Napi::String::New(env, LZ4_versionString()));
  unsigned v = XXH_versionNumber();
  o.Set("xxhash", Napi::String::New(env, std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
                                             std::to_string(v % 100)));
  return o;
}

}  // namespace

bool IsSameFillBlock(const uint8_t* block) { return IsSameFill(block); }

int MatchStoredBlock(uint32_t codec, const uint8_t* payload, size_t stored, const uint8_t* want) {
  if (codec > 0xff) return -1;
  if (codec == kCodecRaw) {
    if (stored != kBlockBytes) return -1;
    return memcmp(payload, want, kBlockBytes) == 0 ? 1 : 0;
  }
  uint8_t plain[kBlockBytes];
  if (DecodePayload(static_cast<uint8_t>(codec), payload, stored, plain) != kDecodeOk) return -1;
  return memcmp(plain, want, kBlockBytes) == 0 ? 1 : 0;
}

void FingerprintBlock(const uint8_t* block, uint8_t* out) { Fingerprint(block, out); }

void HashBytes(const uint8_t* src, size_t length, uint8_t* out) {
  XXH128_canonicalFromHash(reinterpret_cast<XXH128_canonical_t*>(out), XXH3_128bits(src, length));
}

static_assert(kCompressOutBytes == static_cast<size_t>(kCompressBound), "kCompressOutBytes is lz4's bound for 4 KiB");

size_t CompressBlock(const uint8_t* block, uint8_t* out, size_t limit) {
  // One stream per thread, set up once: LZ4_compress_fast_extState would zero
  // its 16 KiB hash table for every 4 KiB block (as much work as compressing
  // it under emulation); a fast reset starts each block as its own chain
  // instead, so the output still decodes alone (lz4.h, LZ4_resetStream_fast).
  static thread_local LZ4_stream_t* state = LZ4_initStream(&stream_storage, sizeof(stream_storage));
  LZ4_resetStream_fast(state);
  int n = LZ4_compress_fast_continue(state, reinterpret_cast<const char*>(block), reinterpret_cast<char*>(out),
                                     static_cast<int>(kBlockBytes), kCompressBound, 1);
  return n <= 0 || static_cast<size_t>(n) > limit ? 0 : static_cast<size_t>(n);
}

DecodeStatus DecodeStored(const uint8_t* frag, size_t avail, uint64_t extent_id, uint32_t codec_id,
                          uint32_t stored_bytes, const uint8_t* fingerprint, uint8_t* out) {
  DecodeEntry e{0, 0, static_cast<double>(extent_id), static_cast<double>(codec_id), static_cast<double>(stored_bytes), 0};
  DecodeStatus st = DecodeFragment(Span<uint8_t>{const_cast<uint8_t*>(frag), avail}, e, out);
  if (st == kDecodeOk && fingerprint != nullptr) {
    uint8_t fp[kFingerprintBytes];
    Fingerprint(out, fp);
    if (memcmp(fp, fingerprint, kFingerprintBytes) != 0) st = kDecodeFingerprint;
  }
  if (st != kDecodeOk) memset(out, 0, kBlockBytes);
  return st;
}

void InitCodecBatch(Napi::Env env, Napi::Object exports) {
  exports.Set("codecScan", Napi::Function::New(env, CodecScan, "codecScan"));
  exports.Set("codecCompress", Napi::Function::New(env, CodecCompress, "codecCompress"));
  exports.Set("codecDecode", Napi::Function::New(env, CodecDecode, "codecDecode"));
  exports.Set("codecMatch", Napi::Function::New(env, CodecMatch, "codecMatch"));
  exports.Set("codecInfo", Napi::Function::New(env, CodecInfo, "codecInfo"));
  exports.Set("codecHash", Napi::Function::New(env, CodecHash, "codecHash"));
}

}  // namespace ublk
