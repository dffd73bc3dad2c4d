#include "bench/load/staleness.h"

#include <algorithm>
#include <cstdio>

namespace dialkv::bench {

StalenessTracker::StalenessTracker(size_t keys) : newest_acked_sent_ns_(keys, -1) {}

int64_t StalenessTracker::Ns(Clock::time_point t) const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t - origin_).count();
}

uint64_t StalenessTracker::BeginWrite(std::string* value, Clock::time_point now) {
  const uint64_t id = writes_.size();
  writes_.push_back(Write{.sent_ns = Ns(now), .acked_ns = -1});
  char tag[kTagBytes + 1];
  std::snprintf(tag, sizeof(tag), "%016llx", static_cast<unsigned long long>(id));
  value->replace(0, kTagBytes, tag, kTagBytes);
  return id;
}

void StalenessTracker::EndWrite(uint64_t id, size_t key, bool acknowledged, Clock::time_point now) {
  if (!acknowledged || id >= writes_.size()) return;
  Write& w = writes_[id];
  w.acked_ns = Ns(now);
  int64_t& newest = newest_acked_sent_ns_[key];
  newest = std::max(newest, w.sent_ns);
}

StalenessTracker::ReadStart StalenessTracker::BeginRead(size_t key) const {
  return ReadStart{.key = key, .newest_acked_sent_ns = newest_acked_sent_ns_[key]};
}

bool StalenessTracker::IsStale(const ReadStart& start,
                               const std::optional<std::string_view>& value) const {
  if (start.newest_acked_sent_ns < 0) return false;  // Nothing acknowledged before the read.
  if (!value.has_value()) return true;               // Not found after an acknowledged write.
  const std::optional<uint64_t> id = TagOf(*value);
  if (!id.has_value() || *id >= writes_.size()) return false;
  const Write& returned = writes_[*id];
  return returned.acked_ns >= 0 && returned.acked_ns < start.newest_acked_sent_ns;
}

std::optional<uint64_t> StalenessTracker::TagOf(std::string_view value) {
  if (value.size() < kTagBytes) return std::nullopt;
  uint64_t id = 0;
  for (size_t i = 0; i < kTagBytes; ++i) {
    const char c = value[i];
    uint64_t digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned char>(c) - uint64_t{'0'};
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<unsigned char>(c) - uint64_t{'a'} + 10;
    } else {
      return std::nullopt;
    }
    id = id << 4 | digit;
  }
  return id;
}

}  // namespace dialkv::bench
