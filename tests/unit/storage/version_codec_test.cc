// The on-disk layouts of the RocksDB engine (server/storage/version_codec.h).

#include "server/storage/version_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/testutil/status_matchers.h"
#include "tests/unit/storage/storage_test_util.h"

namespace dialkv::storage {
namespace {

using testutil::Live;
using testutil::Tombstone;

TEST(VersionCodecTest, LiveAndTombstoneVersionsRoundTrip) {
  const std::vector<Version> versions = {
      Live("value", 0x0123456789abcdefULL, 0xfedcba98), Live("", 1, 0),
      Live(std::string("\0\xff", 2), ~uint64_t{0}, ~NodeId{0}), Tombstone(42, 7)};
  for (const Version& v : versions) {
    const std::string bytes = EncodeVersion(v);
    EXPECT_EQ(bytes.size(), kVersionHeaderBytes + v.value.size());
    Result<Version> decoded = DecodeVersion("k", bytes);
    ASSERT_OK(decoded);
    EXPECT_EQ(decoded.value(), v);
    Result<VersionHeader> header = DecodeVersionHeader("k", bytes);
    ASSERT_OK(header);
    EXPECT_EQ(header->timestamp, v.timestamp);
    EXPECT_EQ(header->tombstone, v.tombstone);
  }
}

TEST(VersionCodecTest, EveryTruncationIsCorruptionNamingTheKeyByLengthAndHash) {
  const std::string bytes = EncodeVersion(Live("", 5, 6));
  for (size_t n = 0; n < bytes.size(); ++n) {
    Result<Version> decoded = DecodeVersion("secret", bytes.substr(0, n));
    ASSERT_CODE(decoded, Code::kCorruption);
    EXPECT_NE(decoded.status().message().find("len=6, hash=0x"), std::string::npos)
        << decoded.status().message();
    EXPECT_EQ(decoded.status().message().find("secret"), std::string::npos)
        << decoded.status().message();
  }
}

TEST(VersionCodecTest, UnknownFormatByteIsCorruption) {
  std::string bytes = EncodeVersion(Live("v", 5));
  bytes[0] = 2;
  ASSERT_CODE(DecodeVersion("k", bytes), Code::kCorruption);
}

TEST(VersionCodecTest, UnknownFlagBitsAreCorruption) {
  std::string bytes = EncodeVersion(Live("v", 5));
  bytes[13] = 0x02;
  ASSERT_CODE(DecodeVersionHeader("k", bytes), Code::kCorruption);
}

TEST(VersionCodecTest, InPlaceEncodingsMatchTheStringOnes) {
  for (const Version& v : {Live("value", 0x0123456789abcdefULL, 0xfedcba98), Tombstone(7, 2)}) {
    const VersionHeader header{v.timestamp, v.tombstone};
    char bytes[kVersionHeaderBytes];
    EncodeVersionHeaderTo(header, bytes);
    EXPECT_EQ(std::string(bytes, sizeof(bytes)), EncodeVersionHeader(header));
    EXPECT_EQ(std::string(bytes, sizeof(bytes)) + v.value, EncodeVersion(v));
  }
  for (const uint64_t hash : {uint64_t{0}, uint64_t{0x0102030405060708}, ~uint64_t{0}}) {
    char bytes[kDataKeyPrefixBytes];
    EncodeDataKeyPrefixTo(hash, bytes);
    EXPECT_EQ(std::string(bytes, sizeof(bytes)), EncodeDataKeyPrefix(hash));
  }
}

TEST(VersionCodecTest, HintKeysSortByPeerThenSequence) {
  const std::vector<std::pair<NodeId, uint64_t>> ordered = {{0, 0},
                                                            {0, 1},
                                                            {0, 255},
                                                            {0, 256},
                                                            {0, uint64_t{1} << 40},
                                                            {1, 0},
                                                            {255, 7},
                                                            {256, 0},
                                                            {~NodeId{0}, ~uint64_t{0}}};
  for (size_t i = 0; i + 1 < ordered.size(); ++i) {
    const std::string a = EncodeHintKey(ordered[i].first, ordered[i].second);
    const std::string b = EncodeHintKey(ordered[i + 1].first, ordered[i + 1].second);
    EXPECT_LT(a, b) << i;  // std::string compares bytes as unsigned, like RocksDB.
    EXPECT_EQ(a.substr(0, kHintPrefixBytes), EncodeHintPrefix(ordered[i].first));
  }
  for (const auto& [peer, sequence] : ordered) {
    Result<HintKey> decoded = DecodeHintKey(EncodeHintKey(peer, sequence));
    ASSERT_OK(decoded);
    EXPECT_EQ(decoded->peer, peer);
    EXPECT_EQ(decoded->sequence, sequence);
  }
}

TEST(VersionCodecTest, HintKeyOfWrongLengthIsCorruption) {
  ASSERT_CODE(DecodeHintKey(std::string(11, 'x')), Code::kCorruption);
  ASSERT_CODE(DecodeHintKey(std::string(13, 'x')), Code::kCorruption);
}

}  // namespace
}  // namespace dialkv::storage
