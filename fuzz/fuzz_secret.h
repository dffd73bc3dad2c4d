#pragma once
// What the token-checking fuzz targets and the corpus maker agree on: the secret tokens are
// signed with and the time they are checked at, so the seed tokens verify.

#include <cstdint>
#include <string_view>

namespace dialkv::fuzz {

inline constexpr std::string_view kTokenSecret = "dialkv-fuzz-secret-0123456789abcdef";
inline constexpr int64_t kNowS = 1'800'000'000;  // 2027-01-15: seconds since the Unix epoch.

}  // namespace dialkv::fuzz
