#pragma once
// The background replication of AP writes as one stream per peer (Coordinator's, private).
//
// An AP write's coordinator answers once its own replica holds the version; the other replicas
// get it in the background. Instead of a call, a coroutine and a timer per replica and write,
// each peer has a queue: Offer() adds the write, and a sender (a coroutine of the coordinator's
// tracker, on the executor of the write that started it) sends everything queued as one
// PeerBatch call, answered with one status per write. While a call is out, the writes that
// arrive queue for the next one, and up to kMaxSenders calls per peer are out at once, so a
// burst of writes costs a few calls, and the stream keeps flowing while one call waits.
//
// What a replica did not acknowledge is hinted, exactly as for a call of its own: every write
// of a call that failed as a whole (lost, timed out, its connection dropped, refused), and
// each write the reply says failed or left out; not a write the replica's clock guard refused
// (a hint would be refused again). Without hinted handoff those wait for anti-entropy.
//
// Offer() declines (false; the caller then delivers the write itself) when the peer has not
// said it serves batches (a node of an older release), when kMaxQueued writes already wait for
// it, or when the tracker has no slot for a new sender.
//
// Thread-safe: Offer() may be called from any executor; each peer's queue has its own lock.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "server/replication/coordinator.h"

namespace dialkv::replication {

class Coordinator::Streams {
 public:
  // Writes, and bytes of their keys and values, waiting for one peer at most; beyond, Offer()
  // declines (the write is then delivered by a call of its own, which takes a slot of the
  // coordinator's budget, or hinted when none is left).
  static constexpr size_t kMaxQueued = 10'000;
  static constexpr size_t kMaxQueuedBytes = size_t{64} << 20;
  // Calls out to one peer at once.
  static constexpr size_t kMaxSenders = 4;
  // A call carries at most this many writes, and no write that would take their keys and
  // values past Options::stream_batch_bytes (one write always goes).
  static constexpr size_t kMaxBatch = 512;

  explicit Streams(Coordinator& coordinator) : coordinator_(coordinator) {}

  // Queues `write` for `replica` and makes sure a sender will take it; see the file comment.
  bool Offer(const asio::any_io_executor& executor, NodeId replica, const SharedWrite& write);

 private:
  struct Peer {
    std::mutex mu;
    std::vector<SharedWrite> queue;  // Guarded by mu.
    size_t queued_bytes = 0;         // Guarded by mu: keys and values in `queue`.
    size_t senders = 0;              // Guarded by mu: senders started and not finished.
    bool sender_pending = false;     // Guarded by mu: one was started and has not taken yet.
  };

  static size_t BytesOf(const KeyVersion& write);  // Its key's and value's.
  Peer& PeerOf(NodeId replica);
  // A sender: takes what is queued and sends it, until the queue is empty.
  asio::awaitable<void> Send(NodeId replica, Peer* peer);
  // One call carrying `writes`, and the hints of what it did not deliver.
  asio::awaitable<void> SendBatch(NodeId replica, std::vector<SharedWrite> writes);

  Coordinator& coordinator_;
  std::mutex mu_;
  std::map<NodeId, std::unique_ptr<Peer>> peers_;  // Guarded by mu_; entries never go.
};

}  // namespace dialkv::replication
