#include "server/cluster/membership.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <utility>

#include "server/common/check.h"
#include "server/common/logging.h"

namespace dialkv::cluster {
namespace {

constexpr std::string_view kGenerationKey = "generation";

// At most one warning about this node's own entry per interval: with two processes sharing a
// node id it would otherwise repeat every gossip round.
constexpr int64_t kSelfWarningIntervalMs = 10'000;

std::vector<Member> SortedById(std::vector<Member> members) {
  std::sort(members.begin(), members.end(),
            [](const Member& a, const Member& b) { return a.node_id < b.node_id; });
  return members;
}

size_t FindIndex(const std::vector<Member>& sorted, NodeId node) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), node,
                             [](const Member& m, NodeId id) { return m.node_id < id; });
  if (it == sorted.end() || it->node_id != node) return sorted.size();
  return static_cast<size_t>(it - sorted.begin());
}

}  // namespace

std::string_view MemberStateName(MemberState s) {
  switch (s) {
    case MemberState::kSelf:
      return "self";
    case MemberState::kAlive:
      return "alive";
    case MemberState::kSuspect:
      return "suspect";
    case MemberState::kDead:
      return "dead";
  }
  return "unknown";
}

Membership::Membership(NodeId self, uint64_t generation, std::vector<Member> members,
                       const Clock& clock, Options options)
    : self_(self),
      members_(SortedById(std::move(members))),
      self_index_(FindIndex(members_, self)),
      clock_(clock),
      options_(options) {
  DIALKV_CHECK(self_index_ < members_.size());
  DIALKV_CHECK(
      std::adjacent_find(members_.begin(), members_.end(), [](const Member& a, const Member& b) {
        return a.node_id == b.node_id;
      }) == members_.end());
  DIALKV_CHECK(generation >= 1);
  DIALKV_CHECK(options_.suspect_after_ms > 0);
  DIALKV_CHECK(options_.dead_after_ms >= options_.suspect_after_ms);
  entries_.resize(members_.size());
  Entry& me = entries_[self_index_];
  me.state = MemberState::kSelf;
  me.generation = generation;
  me.last_heard_ms = clock_.NowMs();
}

uint64_t Membership::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_[self_index_].generation;
}

size_t Membership::IndexOf(NodeId node) const { return FindIndex(members_, node); }

const Member* Membership::Find(NodeId node) const {
  const size_t i = IndexOf(node);
  return i < members_.size() ? &members_[i] : nullptr;
}

MemberState Membership::Evaluate(const Entry& entry, int64_t now_ms) const {
  if (entry.state == MemberState::kSelf) return MemberState::kSelf;
  if (entry.generation == 0) return MemberState::kDead;
  const int64_t silent_ms = std::max<int64_t>(0, now_ms - entry.last_heard_ms);
  if (silent_ms >= options_.dead_after_ms) return MemberState::kDead;
  if (silent_ms >= options_.suspect_after_ms) return MemberState::kSuspect;
  return MemberState::kAlive;
}

void Membership::EvaluateLocked(int64_t now_ms, std::vector<Change>* changes) {
  for (size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    const MemberState next = Evaluate(e, now_ms);
    if (next != e.state) {
      changes->push_back(Change{members_[i].node_id, e.state, next});
      e.state = next;
    }
  }
}

void Membership::Deliver(const std::vector<Change>& changes) {
  if (changes.empty()) return;
  std::vector<Listener> listeners;
  {
    std::lock_guard<std::mutex> lock(mu_);
    listeners = listeners_;
  }
  spdlog::logger& log = Log(Subsystem::kCluster);
  for (const Change& c : changes) {
    log.info("node={} peer={} {}->{}", self_, c.node, MemberStateName(c.from),
             MemberStateName(c.to));
    for (const Listener& listener : listeners) listener(c.node, c.from, c.to);
  }
}

void Membership::Tick(uint64_t live_keys) {
  std::lock_guard<std::mutex> delivery(delivery_mu_);
  std::vector<Change> changes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now_ms = clock_.NowMs();
    Entry& me = entries_[self_index_];
    ++me.heartbeat;
    me.live_keys = live_keys;
    me.last_heard_ms = now_ms;
    EvaluateLocked(now_ms, &changes);
  }
  Deliver(changes);
}

std::vector<v1::MemberState> Membership::Snapshot() const {
  std::vector<v1::MemberState> out;
  std::lock_guard<std::mutex> lock(mu_);
  out.reserve(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    if (e.generation == 0) continue;
    v1::MemberState& s = out.emplace_back();
    s.set_node_id(members_[i].node_id);
    s.set_generation(e.generation);
    s.set_heartbeat(e.heartbeat);
    s.set_live_keys(e.live_keys);
  }
  return out;
}

std::string Membership::AdoptSelfLocked(const v1::MemberState& state, int64_t now_ms) {
  Entry& me = entries_[self_index_];
  // Values that could not grow once adopted (bytes from the network: never trusted to be sane)
  // are left alone.
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  if (state.generation() == kMax || state.heartbeat() == kMax) return {};
  std::string what;
  if (state.generation() > me.generation) {
    what = "generation " + std::to_string(state.generation()) + " (this run has " +
           std::to_string(me.generation) + "; was the data dir replaced?)";
    me.generation = state.generation() + 1;
    me.heartbeat = 0;
  } else if (state.generation() == me.generation && state.heartbeat() > me.heartbeat) {
    what = "heartbeat " + std::to_string(state.heartbeat()) + " in generation " +
           std::to_string(me.generation) + " (this run is at " + std::to_string(me.heartbeat) +
           "; was the generation reused after a power failure?)";
    me.heartbeat = state.heartbeat();
  } else {
    return {};
  }
  if (last_self_warning_ms_ >= 0 && now_ms - last_self_warning_ms_ < kSelfWarningIntervalMs) {
    return {};
  }
  last_self_warning_ms_ = now_ms;
  return "peers remember node " + std::to_string(self_) + " at " + what +
         "; adopted it so they hear this run. If another process runs with --node-id " +
         std::to_string(self_) + ", stop one of them";
}

void Membership::Merge(const google::protobuf::RepeatedPtrField<v1::MemberState>& states) {
  std::lock_guard<std::mutex> delivery(delivery_mu_);
  std::vector<Change> changes;
  std::string self_warning;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now_ms = clock_.NowMs();
    for (const v1::MemberState& s : states) {
      const size_t i = IndexOf(s.node_id());
      if (i == members_.size() || s.generation() == 0) continue;
      if (i == self_index_) {
        std::string warning = AdoptSelfLocked(s, now_ms);
        if (!warning.empty()) self_warning = std::move(warning);
        continue;
      }
      Entry& e = entries_[i];
      const bool restarted = s.generation() > e.generation;
      const bool advanced = s.generation() == e.generation && s.heartbeat() > e.heartbeat;
      if (!restarted && !advanced) continue;
      e.generation = s.generation();
      e.heartbeat = s.heartbeat();
      e.live_keys = s.live_keys();
      e.last_heard_ms = now_ms;
    }
    EvaluateLocked(now_ms, &changes);
  }
  if (!self_warning.empty()) Log(Subsystem::kCluster).warn("node={} {}", self_, self_warning);
  Deliver(changes);
}

MemberState Membership::StateOf(NodeId node) const {
  const size_t i = IndexOf(node);
  if (i == members_.size()) return MemberState::kDead;
  std::lock_guard<std::mutex> lock(mu_);
  return entries_[i].state;
}

bool Membership::IsAlive(NodeId node) const {
  const MemberState s = StateOf(node);
  return s == MemberState::kSelf || s == MemberState::kAlive;
}

std::vector<MemberView> Membership::Views() const {
  std::vector<MemberView> out;
  out.reserve(members_.size());
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now_ms = clock_.NowMs();
  for (size_t i = 0; i < members_.size(); ++i) {
    const Entry& e = entries_[i];
    MemberView& v = out.emplace_back();
    v.member = members_[i];
    v.state = e.state;
    v.generation = e.generation;
    v.heartbeat = e.heartbeat;
    v.live_keys = e.live_keys;
    if (i == self_index_) {
      v.last_heard_ms_ago = 0;
    } else if (e.generation != 0) {
      v.last_heard_ms_ago = std::max<int64_t>(0, now_ms - e.last_heard_ms);
    }
  }
  return out;
}

void Membership::AddListener(Listener listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.push_back(std::move(listener));
}

Result<uint64_t> NextGeneration(storage::Engine& engine) {
  uint64_t previous = 0;
  Result<std::string> stored = engine.GetMeta(kGenerationKey);
  if (stored.ok()) {
    const std::string& s = stored.value();
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), previous);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
      return Status::Corruption("the data dir records an unreadable generation '" + s + "'");
    }
    if (previous == std::numeric_limits<uint64_t>::max()) {
      return Status::Corruption("the data dir records generation " + s + ", which cannot grow");
    }
  } else if (!stored.status().IsNotFound()) {
    return stored.status();
  }
  const uint64_t next = previous + 1;
  DIALKV_RETURN_IF_ERROR(engine.PutMeta(kGenerationKey, std::to_string(next)));
  return next;
}

}  // namespace dialkv::cluster
