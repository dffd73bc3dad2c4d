#include "server/net/request_budget.h"

namespace dialkv::net {
namespace {

void Count(metrics::Counter* counter) {
  if (counter != nullptr) counter->Inc();
}

}  // namespace

bool RequestBudget::Admit(uint64_t bytes) {
  const uint64_t requests_before = requests_.fetch_add(1, std::memory_order_relaxed);
  if (options_.max_requests > 0 && requests_before >= options_.max_requests) {
    requests_.fetch_sub(1, std::memory_order_relaxed);
    Count(counters_.refused_requests);
    return false;
  }
  const uint64_t bytes_before = bytes_.fetch_add(bytes, std::memory_order_relaxed);
  if (options_.max_bytes > 0 && bytes_before > 0 && bytes_before + bytes > options_.max_bytes) {
    bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    requests_.fetch_sub(1, std::memory_order_relaxed);
    Count(counters_.refused_bytes);
    return false;
  }
  return true;
}

void RequestBudget::Finish(uint64_t bytes, bool client) {
  bytes_.fetch_sub(bytes, std::memory_order_relaxed);
  if (client) requests_.fetch_sub(1, std::memory_order_relaxed);
}

bool RequestBudget::ReserveReply(uint64_t bytes) {
  const uint64_t before = bytes_.fetch_add(bytes, std::memory_order_relaxed);
  if (bytes <= kSmallReplyBytes || options_.max_bytes == 0 ||
      before + bytes <= options_.max_bytes) {
    return true;
  }
  bytes_.fetch_sub(bytes, std::memory_order_relaxed);
  Count(counters_.refused_replies);
  return false;
}

}  // namespace dialkv::net
