#include "server/storage/version_codec.h"

#include <cinttypes>
#include <cstdio>

#include "server/common/hash.h"

namespace dialkv::storage {
namespace {

constexpr uint8_t kTombstoneFlag = 0x01;

void PutFixedLE(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void PutFixedBE(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetFixedLE(std::string_view in, size_t offset, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(in[offset + i])) << (8 * i);
  }
  return v;
}

uint64_t GetFixedBE(std::string_view in, size_t offset, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(in[offset + i]);
  return v;
}

Status Corrupt(std::string_view key, const std::string& what) {
  return Status::Corruption("stored version of " + DescribeKey(key) + " does not decode: " + what);
}

}  // namespace

std::string EncodeVersion(const Version& version) {
  std::string out;
  out.reserve(kVersionHeaderBytes + version.value.size());
  out.push_back(static_cast<char>(kVersionFormatV1));
  PutFixedLE(out, version.timestamp.hlc, 8);
  PutFixedLE(out, version.timestamp.node_id, 4);
  out.push_back(static_cast<char>(version.tombstone ? kTombstoneFlag : 0));
  out.append(version.value);
  return out;
}

void EncodeVersionHeaderTo(const VersionHeader& header, char (&out)[kVersionHeaderBytes]) {
  out[0] = static_cast<char>(kVersionFormatV1);
  for (int i = 0; i < 8; ++i)
    out[1 + i] = static_cast<char>((header.timestamp.hlc >> (8 * i)) & 0xff);
  for (int i = 0; i < 4; ++i) {
    out[9 + i] = static_cast<char>((header.timestamp.node_id >> (8 * i)) & 0xff);
  }
  out[13] = static_cast<char>(header.tombstone ? kTombstoneFlag : 0);
}

std::string EncodeVersionHeader(const VersionHeader& header) {
  return EncodeVersion(Version{std::string(), header.timestamp, header.tombstone});
}

Result<VersionHeader> DecodeVersionHeader(std::string_view key, std::string_view bytes) {
  if (bytes.size() < kVersionHeaderBytes) {
    return Corrupt(key, std::to_string(bytes.size()) + " bytes, shorter than the " +
                            std::to_string(kVersionHeaderBytes) + "-byte header");
  }
  const auto format = static_cast<uint8_t>(bytes[0]);
  if (format != kVersionFormatV1) {
    return Corrupt(key, "unknown format byte " + std::to_string(format) + " (expected " +
                            std::to_string(kVersionFormatV1) + ")");
  }
  const auto flags = static_cast<uint8_t>(bytes[13]);
  if ((flags & ~kTombstoneFlag) != 0) {
    return Corrupt(key, "unknown flag bits " + std::to_string(flags));
  }
  VersionHeader h;
  h.timestamp.hlc = GetFixedLE(bytes, 1, 8);
  h.timestamp.node_id = static_cast<NodeId>(GetFixedLE(bytes, 9, 4));
  h.tombstone = (flags & kTombstoneFlag) != 0;
  return h;
}

Result<Version> DecodeVersion(std::string_view key, std::string_view bytes) {
  Result<VersionHeader> header = DecodeVersionHeader(key, bytes);
  if (!header.ok()) return header.status();
  Version v;
  v.timestamp = header->timestamp;
  v.tombstone = header->tombstone;
  v.value.assign(bytes.substr(kVersionHeaderBytes));
  return v;
}

std::string DescribeKey(std::string_view key) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "key (len=%zu, hash=0x%016" PRIx64 ")", key.size(), KeyHash(key));
  return buf;
}

std::string EncodeDataKey(uint64_t key_hash, std::string_view key) {
  std::string out;
  out.reserve(kDataKeyPrefixBytes + key.size());
  PutFixedBE(out, key_hash, 8);
  out.append(key);
  return out;
}

std::string EncodeDataKeyPrefix(uint64_t key_hash) {
  std::string out;
  out.reserve(kDataKeyPrefixBytes);
  PutFixedBE(out, key_hash, 8);
  return out;
}

void EncodeDataKeyPrefixTo(uint64_t key_hash, char (&out)[kDataKeyPrefixBytes]) {
  for (size_t i = 0; i < kDataKeyPrefixBytes; ++i) {
    out[i] = static_cast<char>((key_hash >> (8 * (kDataKeyPrefixBytes - 1 - i))) & 0xff);
  }
}

Result<DataKey> DecodeDataKey(std::string_view bytes) {
  if (bytes.size() < kDataKeyPrefixBytes) {
    return Status::Corruption("data key of " + std::to_string(bytes.size()) +
                              " bytes does not decode (expected at least " +
                              std::to_string(kDataKeyPrefixBytes) + ")");
  }
  return DataKey{GetFixedBE(bytes, 0, 8), bytes.substr(kDataKeyPrefixBytes)};
}

std::string EncodeHintKey(NodeId peer, uint64_t sequence) {
  std::string out;
  out.reserve(kHintKeyBytes);
  PutFixedBE(out, peer, 4);
  PutFixedBE(out, sequence, 8);
  return out;
}

std::string EncodeHintPrefix(NodeId peer) {
  std::string out;
  out.reserve(kHintPrefixBytes);
  PutFixedBE(out, peer, 4);
  return out;
}

Result<HintKey> DecodeHintKey(std::string_view bytes) {
  if (bytes.size() != kHintKeyBytes) {
    return Status::Corruption("hint key of " + std::to_string(bytes.size()) +
                              " bytes does not decode (expected " + std::to_string(kHintKeyBytes) +
                              ")");
  }
  HintKey k;
  k.peer = static_cast<NodeId>(GetFixedBE(bytes, 0, 4));
  k.sequence = GetFixedBE(bytes, 4, 8);
  return k;
}

}  // namespace dialkv::storage
