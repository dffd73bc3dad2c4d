#include "server/net/fault_injector.h"

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "server/common/logging.h"

namespace dialkv::net {
namespace {

// The generator's seed: the configured one mixed with the node id, so nodes given one seed
// still make independent choices.
uint64_t MixSeed(uint64_t seed, NodeId self) {
  uint64_t x = seed ^ (0x9e3779b97f4a7c15ULL * (static_cast<uint64_t>(self) + 1));
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 29;
  return x;
}

// true with probability p, from 53 random bits.
bool Chance(Random& random, double p) {
  if (p <= 0) return false;
  if (p >= 1) return true;
  return static_cast<double>(random.Next() >> 11) * 0x1.0p-53 < p;
}

Status CheckProbability(const std::optional<double>& p, std::string_view field, NodeId peer) {
  if (!p.has_value() || (std::isfinite(*p) && *p >= 0 && *p <= 1)) return Status::Ok();
  return Status::InvalidArgument(std::string(field) + " for peer " + std::to_string(peer) + " is " +
                                 std::to_string(*p) + "; a probability is 0 to 1");
}

Status CheckDelay(const std::optional<uint32_t>& ms, std::string_view field, NodeId peer) {
  if (!ms.has_value() || *ms <= FaultInjector::kMaxDelayMs) return Status::Ok();
  return Status::InvalidArgument(std::string(field) + " for peer " + std::to_string(peer) + " is " +
                                 std::to_string(*ms) + " ms; at most " +
                                 std::to_string(FaultInjector::kMaxDelayMs) + " ms");
}

}  // namespace

FaultInjector::FaultInjector(Options options, metrics::Registry* metrics)
    : self_(options.self), seed_(options.seed), random_(MixSeed(options.seed, options.self)) {
  metrics::CounterFamily* dropped = nullptr;
  metrics::CounterFamily* delayed = nullptr;
  if (metrics != nullptr) {
    dropped = &metrics->AddCounter(
        "dialkv_fault_messages_dropped_total",
        "Peer messages the fault injector lost, by peer, direction (out: sent by this node, in: "
        "received) and cause (drop: random loss, partition: a blocked link).",
        {"peer", "direction", "cause"});
    delayed = &metrics->AddCounter("dialkv_fault_messages_delayed_total",
                                   "Peer messages the fault injector held before sending, by "
                                   "peer and direction.",
                                   {"peer", "direction"});
  }
  static constexpr std::string_view kDirections[] = {"out", "in"};
  static constexpr std::string_view kCauses[] = {"drop", "partition"};
  for (NodeId peer : options.peers) {
    if (peer == self_) continue;
    PeerCounters& c = counters_[peer];
    if (metrics == nullptr) continue;
    const std::string label = std::to_string(peer);
    for (int d = 0; d < 2; ++d) {
      for (int cause = 0; cause < 2; ++cause) {
        c.dropped[d][cause] = &dropped->WithLabels({label, kDirections[d], kCauses[cause]});
      }
      c.delayed[d] = &delayed->WithLabels({label, kDirections[d]});
    }
  }
}

FaultVerdict FaultInjector::Judge(NodeId peer, Direction direction) {
  FaultVerdict verdict;
  if (!any_.load(std::memory_order_relaxed)) return verdict;
  const auto counters = counters_.find(peer);
  if (counters == counters_.end()) return verdict;
  const int d = direction == Direction::kOut ? 0 : 1;
  int cause = -1;
  {
    std::lock_guard lock(mu_);
    const auto it = links_.find(peer);
    if (it == links_.end()) return verdict;
    const LinkFaults& link = it->second;
    const bool out = direction == Direction::kOut;
    if (out ? link.block_out : link.block_in) {
      cause = 1;
    } else if (Chance(random_, out ? link.drop_out : link.drop_in)) {
      cause = 0;
    } else if (out && (link.delay_ms > 0 || link.jitter_ms > 0)) {
      const uint64_t jitter = link.jitter_ms > 0 ? random_.Uniform(link.jitter_ms + 1ULL) : 0;
      verdict.delay = std::chrono::milliseconds(link.delay_ms + jitter);
    }
  }
  if (cause >= 0) {
    verdict.lost = true;
    if (metrics::Counter* c = counters->second.dropped[d][cause]; c != nullptr) c->Inc();
  } else if (verdict.delay.count() > 0) {
    if (metrics::Counter* c = counters->second.delayed[d]; c != nullptr) c->Inc();
  }
  return verdict;
}

Status FaultInjector::Apply(const std::vector<LinkFaultsPatch>& patches,
                            std::optional<uint64_t> seed) {
  std::set<NodeId> seen;
  for (const LinkFaultsPatch& p : patches) {
    if (p.peer == self_) {
      return Status::InvalidArgument("peer " + std::to_string(p.peer) +
                                     " is this node; faults are set on links to other nodes");
    }
    if (counters_.count(p.peer) == 0) {
      return Status::InvalidArgument("peer " + std::to_string(p.peer) +
                                     " is not a member of this cluster");
    }
    if (!seen.insert(p.peer).second) {
      return Status::InvalidArgument("peer " + std::to_string(p.peer) +
                                     " appears twice; give one change per peer");
    }
    for (const Status& s : {CheckProbability(p.drop_out, "drop_out", p.peer),
                            CheckProbability(p.drop_in, "drop_in", p.peer),
                            CheckDelay(p.delay_ms, "delay_ms", p.peer),
                            CheckDelay(p.jitter_ms, "jitter_ms", p.peer)}) {
      if (!s.ok()) return s;
    }
  }
  std::lock_guard lock(mu_);
  for (const LinkFaultsPatch& p : patches) {
    LinkFaults link = links_.count(p.peer) > 0 ? links_[p.peer] : LinkFaults{};
    link.peer = p.peer;
    link.drop_out = p.drop_out.value_or(link.drop_out);
    link.drop_in = p.drop_in.value_or(link.drop_in);
    link.block_out = p.block_out.value_or(link.block_out);
    link.block_in = p.block_in.value_or(link.block_in);
    link.delay_ms = p.delay_ms.value_or(link.delay_ms);
    link.jitter_ms = p.jitter_ms.value_or(link.jitter_ms);
    if (link.clean()) {
      links_.erase(p.peer);
    } else {
      links_[p.peer] = link;
    }
  }
  if (seed.has_value()) {
    seed_ = *seed;
    random_ = SeededRandom(MixSeed(*seed, self_));
  }
  any_.store(!links_.empty(), std::memory_order_relaxed);
  return Status::Ok();
}

void FaultInjector::Clear() {
  std::lock_guard lock(mu_);
  links_.clear();
  any_.store(false, std::memory_order_relaxed);
}

std::vector<LinkFaults> FaultInjector::Links() const {
  std::lock_guard lock(mu_);
  std::vector<LinkFaults> links;
  links.reserve(links_.size());
  for (const auto& [peer, link] : links_) links.push_back(link);
  return links;
}

uint64_t FaultInjector::seed() const {
  std::lock_guard lock(mu_);
  return seed_;
}

namespace {

// One peer-port request through the injector. The handler is shared so that it outlives
// every request it serves.
// Removes the items of `batch` the injector loses in `direction`; returns the longest delay it
// chose for the others.
std::chrono::milliseconds JudgeItems(FaultInjector* injector, NodeId from, Direction direction,
                                     v1::PeerBatch* batch) {
  auto& items = *batch->mutable_items();
  std::chrono::milliseconds longest{0};
  for (int i = items.size(); i-- > 0;) {
    const FaultVerdict verdict = injector->Judge(from, direction);
    if (verdict.lost) {
      items.DeleteSubrange(i, 1);
    } else {
      longest = std::max(longest, verdict.delay);
    }
  }
  return longest;
}

// A batch is judged item by item, as if each had come in a frame of its own: a lost request is
// not served, a lost reply is left out of the batch's reply (its caller waits for its deadline,
// as for any lost message). The reply goes out after the longest delay chosen for its items.
// Even when every item is lost a reply is sent, empty, so that the sender can forget the batch.
asio::awaitable<v1::Envelope> ServeBatchWithFaults(FaultInjector* injector,
                                                   const RequestHandler& inner, NodeId from,
                                                   v1::Envelope request) {
  (void)JudgeItems(injector, from, Direction::kIn, request.mutable_peer_batch_request());
  v1::Envelope reply;
  if (request.peer_batch_request().items().empty()) {
    reply.mutable_peer_batch_reply();
    co_return reply;
  }
  reply = co_await inner(std::move(request));
  if (!reply.has_peer_batch_reply()) co_return reply;  // Refused as a whole: not an item's.
  const std::chrono::milliseconds delay =
      JudgeItems(injector, from, Direction::kOut, reply.mutable_peer_batch_reply());
  if (delay.count() > 0) {
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  co_return reply;
}

asio::awaitable<v1::Envelope> ServeWithFaults(FaultInjector* injector,
                                              std::shared_ptr<const RequestHandler> inner,
                                              v1::Envelope request) {
  // The claimed sender; an unknown one is never faulted, and the service refuses it.
  const NodeId from = request.peer().node_id();
  if (request.has_peer_batch_request()) {
    co_return co_await ServeBatchWithFaults(injector, *inner, from, std::move(request));
  }
  if (injector->Judge(from, Direction::kIn).lost) co_return v1::Envelope();  // No reply.
  v1::Envelope reply = co_await (*inner)(std::move(request));
  const FaultVerdict out = injector->Judge(from, Direction::kOut);
  if (out.lost) co_return v1::Envelope();
  if (out.delay.count() > 0) {
    asio::steady_timer timer(co_await asio::this_coro::executor, out.delay);
    co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  co_return reply;
}

}  // namespace

RequestHandler WithFaults(FaultInjector* injector, RequestHandler inner) {
  auto shared = std::make_shared<const RequestHandler>(std::move(inner));
  return [injector, shared](v1::Envelope request) {
    return ServeWithFaults(injector, shared, std::move(request));
  };
}

}  // namespace dialkv::net
