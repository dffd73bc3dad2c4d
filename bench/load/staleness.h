#pragma once
// Stale-read detection for the load generator: every write's value starts with a tag naming
// the write, and each read's value is checked against the writes acknowledged before the read
// began. A read is stale when it returns a version that is older, in real time, than one
// acknowledged before it started: the write it returned was acknowledged before that other
// write was even sent. A version written concurrently with the newest acknowledged one is not
// stale (last writer wins may order them either way), nor is a write that was never
// acknowledged (it may still have been applied). A read that finds no value where a write had
// been acknowledged is stale too (the load never deletes).
//
// Times are the load generator's, in one thread: no clock of the system under test is used.
// Memory: 16 bytes per write issued during the run, and 8 per key.
//
// Thread-compatible: the load generator uses it from one thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dialkv::bench {

class StalenessTracker {
 public:
  using Clock = std::chrono::steady_clock;
  // Bytes of the tag at the start of every value (16 hex digits).
  static constexpr size_t kTagBytes = 16;

  explicit StalenessTracker(size_t keys);

  // A write is about to be sent at `now`: returns its id and puts its tag at the start of
  // `value`. REQUIRES: value->size() >= kTagBytes.
  uint64_t BeginWrite(std::string* value, Clock::time_point now);
  // The write `id` (of `key`) ended at `now`; `acknowledged`: the store said it was applied.
  void EndWrite(uint64_t id, size_t key, bool acknowledged, Clock::time_point now);

  // What a read of `key` must not be older than: taken when the read is sent.
  struct ReadStart {
    size_t key = 0;
    int64_t newest_acked_sent_ns = -1;  // Latest send time of a write acknowledged so far.
  };
  ReadStart BeginRead(size_t key) const;
  // Whether the read that began with `start` and returned `value` (nullopt: not found) is
  // stale. A value without a tag this tracker issued is not judged (false).
  bool IsStale(const ReadStart& start, const std::optional<std::string_view>& value) const;

  // The write id in `value`'s tag; nullopt when it has none.
  static std::optional<uint64_t> TagOf(std::string_view value);

 private:
  int64_t Ns(Clock::time_point t) const;

  struct Write {
    int64_t sent_ns = 0;
    int64_t acked_ns = -1;  // -1: not acknowledged (yet, or ever).
  };
  const Clock::time_point origin_ = Clock::now();
  std::vector<Write> writes_;                  // By id.
  std::vector<int64_t> newest_acked_sent_ns_;  // By key.
};

}  // namespace dialkv::bench
