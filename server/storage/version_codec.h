#pragma once
// Byte layouts of what the RocksDB engine stores. Internal to storage/: nothing outside this
// folder sees these bytes, but they are on disk, so changing them needs a new format byte.
//
// A data key (column family `data`): KeyHash(key), 64-bit big-endian, then the key's bytes.
// Big-endian hashes make byte order equal ring order, so one ring range, or one bucket of it,
// is one contiguous iteration (ScanByHash); the key's bytes after the hash keep keys that share
// a hash apart. Earlier layouts keyed `data` by the key alone (see rocksdb_engine.h).
//
// A stored version (the value of a data key), 14 bytes of header then the value:
//   [0]      format byte, kVersionFormatV1
//   [1..8]   hlc, fixed 64-bit little-endian
//   [9..12]  node id, fixed 32-bit little-endian
//   [13]     flags: bit 0 = tombstone; other bits must be zero
//   [14..]   the value, raw (empty for a tombstone)
// Fixed-width fields keep decoding branch-free and every field at a known offset; a varint
// hlc would save nothing (an hlc of today's wall clock needs 57 bits).
//
// A hint key (column family `hints`): peer id, 32-bit big-endian, then sequence, 64-bit
// big-endian. Big-endian makes byte order equal numeric order, so a prefix scan over one peer
// yields its hints in sequence order.

#include <cstdint>
#include <string>
#include <string_view>

#include "dialkv/types.h"
#include "server/common/status.h"
#include "server/storage/engine.h"

namespace dialkv::storage {

inline constexpr uint8_t kVersionFormatV1 = 1;
inline constexpr size_t kVersionHeaderBytes = 14;
inline constexpr size_t kHintKeyBytes = 12;
inline constexpr size_t kHintPrefixBytes = 4;

std::string EncodeVersion(const Version& version);

// The header of a version alone (no value): what EncodeVersion stores for a version with this
// header and an empty value.
std::string EncodeVersionHeader(const VersionHeader& header);

// The same bytes as EncodeVersionHeader, into `out` (no allocation): the first
// kVersionHeaderBytes of what EncodeVersion stores for a version with this header.
void EncodeVersionHeaderTo(const VersionHeader& header, char (&out)[kVersionHeaderBytes]);

// Decode what EncodeVersion (or EncodeVersionHeader, for the header) produced. `key` only names the
// entry in the error. Errors: kCorruption with the key's length and hash (never its bytes) and what
// was wrong.
Result<VersionHeader> DecodeVersionHeader(std::string_view key, std::string_view bytes);
Result<Version> DecodeVersion(std::string_view key, std::string_view bytes);

// "key (len=5, hash=0x1f2e...)": how errors and logs name a key without showing it.
std::string DescribeKey(std::string_view key);

std::string EncodeHintKey(NodeId peer, uint64_t sequence);
// The first kHintPrefixBytes of every hint key of `peer`.
std::string EncodeHintPrefix(NodeId peer);

inline constexpr size_t kDataKeyPrefixBytes = 8;
// REQUIRES: key_hash == KeyHash(key).
std::string EncodeDataKey(uint64_t key_hash, std::string_view key);
// The first kDataKeyPrefixBytes of the data keys of every key hashing to `key_hash`.
std::string EncodeDataKeyPrefix(uint64_t key_hash);
// The same bytes into `out` (no allocation).
void EncodeDataKeyPrefixTo(uint64_t key_hash, char (&out)[kDataKeyPrefixBytes]);
struct DataKey {
  uint64_t key_hash = 0;
  std::string_view key;  // Points into the decoded bytes.
};
// Errors: kCorruption if `bytes` is shorter than the prefix. The prefix is not checked against
// the key's hash (that would hash every key of a scan); ScanByHash trusts what the engine wrote.
Result<DataKey> DecodeDataKey(std::string_view bytes);

struct HintKey {
  NodeId peer = 0;
  uint64_t sequence = 0;
};
// Errors: kCorruption if `bytes` is not kHintKeyBytes long.
Result<HintKey> DecodeHintKey(std::string_view bytes);

}  // namespace dialkv::storage
