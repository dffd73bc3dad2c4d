#pragma once
// Internals shared by the files of anti-entropy. Not part of its interface.

#include <asio/co_spawn.hpp>
#include <asio/use_awaitable.hpp>
#include <string>
#include <utility>

#include "server/antientropy/anti_entropy.h"
#include "server/common/logging.h"

namespace dialkv::antientropy {

// One stored entry of the hash index, copied out of a scan.
struct Entry {
  uint64_t key_hash = 0;
  std::string key;
  storage::VersionHeader header;
};

// Wire size of an AeEntry carrying `key` (upper bound: tags, lengths, fixed fields).
inline size_t EntryWireBytes(size_t key_bytes) { return key_bytes + 24; }

template <typename T, typename Fn>
asio::awaitable<T> Invoke(Fn fn) {
  co_return fn();
}

// `fn` runs on the storage thread and the caller resumes on its own executor. T must be
// default-constructible (co_spawn's rule for use_awaitable); Fn is passed as a named object,
// never a lambda written in the call (the GCC 12 coroutine argument bug).
template <typename T, typename Fn>
asio::awaitable<T> AntiEntropy::OnStorage(Fn fn) {
  if (storage_ == nullptr) co_return fn();
  auto work = Invoke<T, Fn>(std::move(fn));
  co_return co_await asio::co_spawn(storage_->get_executor(), std::move(work), asio::use_awaitable);
}

}  // namespace dialkv::antientropy
