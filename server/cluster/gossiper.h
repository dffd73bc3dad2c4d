#pragma once
// Spreads liveness (docs/architecture.md): every interval this node advances its heartbeat
// (Membership::Tick) and sends its whole view (Membership::Snapshot) to every other configured
// member; each answers with its own view, and both sides merge. The failure detector itself
// lives in Membership; the gossiper only moves news.
//
// Every node talks to every other node each round: O(N^2) messages per interval across the
// cluster, each O(N) bytes. That is fine for the cluster sizes we target (tens of nodes: 10
// nodes at 200 ms make 450 calls a second in all, each a few hundred bytes); past that, gossip
// to a few random peers per round instead (the Random seam is already wired for it).
//
// A round sends all its calls concurrently, each with a deadline of one interval, so a slow or
// dead peer delays nobody's news but its own, and rounds start at a fixed rate. The first
// round starts after a random offset in [0, interval), so nodes started together do not
// gossip in lockstep.
//
// Lifetime rule: the loop started by Start() (a BackgroundService, whose header has the rules)
// uses this object, the Membership, the Transport, the Random and `live_keys`. Before
// destroying any of them, either
//   (a) Stop() and wait until the loop has exited (WaitExited() from a thread that does not
//       run its executor, or poll exited() while running the io_context), or
//   (b) destroy the io_context that runs the loop (which destroys the loop without resuming
//       it; exited() is then true).
// The destructor checks that the loop has exited.
//
// Thread-safe: every method may be called from any thread. The loop and its calls run on a
// strand of the executor given to Start(); rounds are timed on the MonotonicClock given at
// construction.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>

#include "proto/dialkv.pb.h"
#include "server/cluster/clock_offsets.h"
#include "server/cluster/membership.h"
#include "server/common/background_service.h"
#include "server/common/clock.h"
#include "server/common/random.h"
#include "server/net/transport.h"

namespace dialkv::cluster {

class Gossiper {
 public:
  struct Options {
    // Time between rounds, and the deadline of each call of a round. Lower spreads news (and
    // detects failures) sooner at the cost of more messages; Membership's suspect_after_ms
    // should be several intervals. REQUIRES: > 0.
    uint32_t interval_ms = 200;
  };

  // None of the references is owned; all must outlive the loop (see the lifetime rule).
  // `random` is used on the loop's strand only. `live_keys` is called once per round, on the
  // thread running the round; it must be quick and must not block (Engine::LiveKeyCount is a
  // good one). `steady` times the rounds and their calls' deadlines.
  Gossiper(Options options, Membership& membership, net::Transport& transport, Random& random,
           std::function<uint64_t()> live_keys,
           const MonotonicClock& steady = MonotonicClock::Real());
  // REQUIRES: exited() (the lifetime rule above).
  ~Gossiper();
  Gossiper(const Gossiper&) = delete;
  Gossiper& operator=(const Gossiper&) = delete;

  // Makes every gossip call a clock sample (clock_offsets.h): requests and replies carry the
  // sender's wall clock. `offsets` is not owned and must outlive the loop and every
  // HandleGossip call. REQUIRES: called before Start() and before the node serves peers.
  void MeasureClocks(PeerClockOffsets* offsets) { offsets_ = offsets; }

  // Starts the loop on a strand of `executor`: a round every interval until Stop(). A second
  // call, or a call after Stop(), does nothing.
  void Start(asio::any_io_executor executor);

  // Asks the loop to exit and returns at once; idempotent. Waiting for the next round ends at
  // once; a round in progress finishes first (at most one interval: its calls' deadline).
  void Stop();
  // True once the loop has exited, or when it was never started.
  bool exited() const { return service_.idle(); }
  // Blocks until exited() or `timeout` passed; returns exited(). The loop's executor must be
  // running meanwhile. REQUIRES: not called from a thread that runs that executor.
  bool WaitExited(std::chrono::milliseconds timeout) { return service_.WaitIdleFor(timeout); }

  // One round: Tick, send this node's view to every other member concurrently, merge each
  // reply; returns when every call has finished (at most one interval). Start()'s loop runs it
  // every interval; tests co_spawn it directly to step a cluster deterministically. Runs on
  // the caller's executor, which must not be run by several threads at once (use a strand).
  asio::awaitable<void> RunRound();

  // The inbound side: folds a peer's view in and answers with this node's view (taken after
  // the merge). Never fails: news this node cannot use is ignored.
  v1::GossipReply HandleGossip(const v1::GossipRequest& request);

  const Options& options() const { return options_; }

 private:
  struct Round;
  asio::awaitable<void> CallPeer(NodeId peer, v1::Envelope request, net::Deadline deadline);

  const Options options_;
  Membership& membership_;
  net::Transport& transport_;
  const std::function<uint64_t()> live_keys_;
  const MonotonicClock& steady_;
  PeerClockOffsets* offsets_ = nullptr;  // Set before start-up, then read-only.
  // The loop: RunRound() every interval, at a fixed rate, after a random first offset. Last:
  // destroyed first.
  BackgroundService service_;
};

}  // namespace dialkv::cluster
