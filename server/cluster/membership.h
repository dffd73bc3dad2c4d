#pragma once
// Who is in the cluster and who seems alive (docs/architecture.md).
//
// Members come from configuration (--peers). Each node runs with a generation that grows at
// every restart (persisted in the engine's meta) and a heartbeat counter that grows while it
// runs. Gossip carries every member's (generation, heartbeat); a member is heard from when
// either grows. The failure detector is a timeout on that: alive while heard within
// suspect_after_ms, suspect until dead_after_ms, dead after. Correctness of CP never depends
// on it: it only chooses whom to ask first, when to store a hint without trying, and when to
// replay hints.
//
// What "alive" means: some node heard a newer heartbeat of that member recently and the news
// reached us, directly or through a third node's gossip. It does not mean this node can reach
// it (a one-sided partition leaves it alive here); the transport's errors say that.
//
// The rules, for one member's entry (`g`, `h`) and a gossiped (`g'`, `h'`):
//   g' > g            — the member restarted: the entry is replaced, even if h' < h;
//   g' == g, h' > h   — newer news of the same run: the heartbeat advances;
//   otherwise         — stale or repeated news: ignored (it does not count as heard).
// "Heard" is timed by this node's clock only; other nodes' clocks never enter the detector.
// A member never heard since this node started is kDead (generation 0, last_heard_ms_ago -1).
//
// This node's own entry is kSelf and is advanced by Tick() only, except when a peer's view of
// it is ahead of this run (a peer remembers a newer incarnation of this node id): a heartbeat
// ahead within this generation is adopted (the generation was reused, e.g. its bump was lost
// to a power failure); a higher generation is adopted as generation + 1 (the data dir was
// replaced). Otherwise peers would ignore this node until they restart. Both are logged at
// warn: they are also what two processes started with the same --node-id look like.
//
// State is evaluated when it can change: on Tick() (time passes) and on Merge() (news
// arrives). StateOf(), IsAlive() and Views() report the state as of the last evaluation, so
// they agree with what listeners were told; with the gossiper ticking every interval, they lag
// the clock by at most one interval.
//
// Thread-safe: one mutex guards the member table; listeners are called without it held.
// Changes are delivered one at a time, in the order they were made (a second mutex serializes
// delivery), so a listener may call the const methods but must not call Tick() or Merge().

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "dialkv/types.h"
#include "proto/dialkv.pb.h"
#include "server/common/clock.h"
#include "server/common/status.h"
#include "server/storage/engine.h"

namespace dialkv::cluster {

enum class MemberState : uint8_t { kSelf, kAlive, kSuspect, kDead };
std::string_view MemberStateName(MemberState s);  // "self", "alive", "suspect", "dead"

struct Member {
  NodeId node_id = 0;
  std::string peer_address;  // host:port of its peer port, as configured.
};

struct MemberView {
  Member member;
  MemberState state = MemberState::kDead;
  uint64_t generation = 0;  // 0: never heard.
  uint64_t heartbeat = 0;
  int64_t last_heard_ms_ago = -1;  // -1: never heard. 0 for this node.
  uint64_t live_keys = 0;
};

class Membership {
 public:
  struct Options {
    // Not heard for this long: suspect. Lower detects a crashed node sooner (fewer requests
    // sent to it, hints stored sooner) but suspects healthy nodes that pause (GC-like stalls,
    // a loaded host, a slow link). Keep it at several gossip intervals: a heartbeat needs one
    // round to arrive directly and a few more through third nodes, and one lost message must
    // not make a node suspect. REQUIRES: > 0.
    int64_t suspect_after_ms = 1000;
    // Not heard for this long: dead. A dead replica gets hints without being tried, and its
    // return (-> kAlive) triggers hint replay. Lower stops waiting on a crashed node sooner;
    // too low makes nodes flap between dead and alive on transient trouble, each return
    // replaying hints. REQUIRES: >= suspect_after_ms.
    int64_t dead_after_ms = 3000;
  };
  // Called (without the lock) when a member's state changes, e.g. to replay hints when a
  // member comes back (from != kAlive, to == kAlive). Runs on the thread of the Tick() or
  // Merge() that caused the change (an io thread): it must be quick and must not block; post
  // real work elsewhere.
  using Listener = std::function<void(NodeId node, MemberState from, MemberState to)>;

  // `members` includes this node (`self`). `generation` is this run's (see NextGeneration).
  // `clock` must outlive this object. Not owned. Times are read from it, so tests can drive
  // the failure detector with a ManualClock. It should be a clock that fault injection does
  // not skew: a step of the clock shifts every member's silence by the step (forward: members
  // turn suspect or dead early; backward: detection is delayed; silences below 0 count as 0).
  // REQUIRES: `self` is among `members`; node ids are distinct (Ring::Build checks the same
  // list and reports errors; check it first); generation >= 1; options as documented.
  Membership(NodeId self, uint64_t generation, std::vector<Member> members, const Clock& clock,
             Options options);
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  NodeId self() const { return self_; }
  // This run's generation: the constructor's, unless adopted from peers (see above).
  uint64_t generation() const;
  // Every configured member, sorted by id, this node included.
  const std::vector<Member>& members() const { return members_; }
  const Member* Find(NodeId node) const;  // nullptr for a node not configured.

  // Advances this node's heartbeat and records its live key count (gossiped to others).
  // Also re-evaluates every member's state against the clock, firing listeners.
  void Tick(uint64_t live_keys);

  // This node's view of every member, for a gossip message: this node and every member heard
  // since this node started, sorted by id (members never heard are left out).
  std::vector<v1::MemberState> Snapshot() const;
  // Folds in another node's view: a member whose (generation, heartbeat) grew is heard from
  // now. Entries for unknown node ids are ignored, as are entries with generation 0.
  // Re-evaluates states, firing listeners (a dead member heard from is alive at once).
  void Merge(const google::protobuf::RepeatedPtrField<v1::MemberState>& states);

  MemberState StateOf(NodeId node) const;  // kDead for a node not configured.
  bool IsAlive(NodeId node) const;         // kSelf or kAlive.
  std::vector<MemberView> Views() const;   // Sorted by id, this node included.

  void AddListener(Listener listener);  // Call before the node starts serving.

 private:
  struct Entry {
    MemberState state = MemberState::kDead;
    uint64_t generation = 0;  // 0: never heard.
    uint64_t heartbeat = 0;
    int64_t last_heard_ms = -1;  // clock_ time of the last news; -1: never heard.
    uint64_t live_keys = 0;
  };
  struct Change {
    NodeId node;
    MemberState from;
    MemberState to;
  };

  size_t IndexOf(NodeId node) const;  // members_.size() for a node not configured.
  MemberState Evaluate(const Entry& entry, int64_t now_ms) const;
  // Re-evaluates every entry at `now_ms`, appending each change to `changes`.
  // REQUIRES: mu_ held.
  void EvaluateLocked(int64_t now_ms, std::vector<Change>* changes);
  // Folds a gossiped view of this node into its own entry. Returns a warning to log (empty
  // when nothing was adopted). REQUIRES: mu_ held.
  std::string AdoptSelfLocked(const v1::MemberState& state, int64_t now_ms);
  // Logs and delivers `changes`. REQUIRES: delivery_mu_ held, mu_ not held.
  void Deliver(const std::vector<Change>& changes);

  const NodeId self_;
  const std::vector<Member> members_;  // Sorted by id.
  const size_t self_index_;            // Of self_ in members_ (and entries_).
  const Clock& clock_;
  const Options options_;

  // Taken before mu_ by Tick() and Merge() and held while their changes are delivered, so
  // listeners see changes one at a time and in order. Never taken by the const methods.
  std::mutex delivery_mu_;
  mutable std::mutex mu_;
  // Guarded by mu_:
  std::vector<Entry> entries_;  // entries_[i] is members_[i]'s.
  std::vector<Listener> listeners_;
  int64_t last_self_warning_ms_ = -1;  // Rate-limits the warnings of AdoptSelfLocked().
};

// Reads this node's previous generation from `engine` meta (name "generation"), stores and
// returns the next one: 1 on a fresh data dir, then 2, 3, ... at each call.
// The bump is as durable as the engine's writes: open the engine with sync, or a power
// failure may hand out a generation again (Membership then recovers through peers, above).
// REQUIRES: not called concurrently for one engine (call it once, at start-up, after the
// data dir is claimed).
// Errors: kIOError; kCorruption when the stored generation is not a decimal number or
// cannot grow.
Result<uint64_t> NextGeneration(storage::Engine& engine);

}  // namespace dialkv::cluster
