#include "server/replication/replica_stream.h"

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <exception>
#include <string>
#include <utility>

#include "server/common/logging.h"
#include "server/net/frame.h"
#include "server/replication/wire.h"

namespace dialkv::replication {
namespace {

// One item of a batch reply, as Transport::Call would have returned it alone: its ErrorReply
// becomes its status.
Result<v1::Envelope> ItemResult(const v1::Envelope& item) {
  if (!item.has_error_reply()) return item;
  const Status refused = net::FromProto(item.error_reply().status());
  if (refused.ok()) return Status::Internal("the replica sent an error reply without an error");
  return refused;
}

}  // namespace

size_t Coordinator::Streams::BytesOf(const KeyVersion& write) {
  return write.key.size() + write.version.value.size();
}

Coordinator::Streams::Peer& Coordinator::Streams::PeerOf(NodeId replica) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<Peer>& peer = peers_[replica];
  if (peer == nullptr) peer = std::make_unique<Peer>();
  return *peer;
}

bool Coordinator::Streams::Offer(const asio::any_io_executor& executor, NodeId replica,
                                 const SharedWrite& write) {
  if (!coordinator_.transport_.ServesBatches(replica)) return false;
  Peer& peer = PeerOf(replica);
  {
    std::lock_guard<std::mutex> lock(peer.mu);
    const size_t bytes = BytesOf(*write);
    if (peer.queue.size() >= kMaxQueued || peer.queued_bytes + bytes > kMaxQueuedBytes) {
      return false;
    }
    if (peer.sender_pending || peer.senders >= kMaxSenders) {
      peer.queue.push_back(write);  // A sender takes it: one not started yet, or one that ends.
      peer.queued_bytes += bytes;
      return true;
    }
    if (!coordinator_.tracker_.TryAcquire()) return false;
    peer.queue.push_back(write);
    peer.queued_bytes += bytes;
    peer.sender_pending = true;
    ++peer.senders;
  }
  // Not under the lock: co_spawn may run the sender at once, on this thread.
  TaskTracker* tracker = &coordinator_.tracker_;
  asio::co_spawn(executor, Send(replica, &peer), [tracker, replica, &peer](std::exception_ptr e) {
    if (e) {
      // Our code does not throw; this is an allocation failure or a bug below us. The writes
      // the sender held wait for anti-entropy.
      Log(Subsystem::kRepl)
          .error("peer={} replica stream sender threw: {}", replica, DescribeException(e));
      std::lock_guard<std::mutex> lock(peer.mu);
      peer.sender_pending = false;
      --peer.senders;
    }
    tracker->Release();
  });
  return true;
}

asio::awaitable<void> Coordinator::Streams::Send(NodeId replica, Peer* peer) {
  // Let the handlers ready now run first: the writes they offer (the other client requests read
  // with this one) join this sender's first call.
  co_await asio::post(co_await asio::this_coro::executor,
                      asio::experimental::as_tuple(asio::use_awaitable));
  for (;;) {
    std::vector<SharedWrite> writes;
    {
      std::lock_guard<std::mutex> lock(peer->mu);
      peer->sender_pending = false;
      if (peer->queue.empty()) {
        // Under the lock that Offer() takes: a write queued after this starts a new sender.
        --peer->senders;
        break;
      }
      const size_t max_bytes = coordinator_.options_.stream_batch_bytes;
      size_t count = 0;
      size_t bytes = 0;
      while (count < peer->queue.size() && count < kMaxBatch) {
        const size_t next = BytesOf(*peer->queue[count]);
        if (count > 0 && bytes + next > max_bytes) break;
        bytes += next;
        ++count;
      }
      peer->queued_bytes -= bytes;
      writes.assign(std::make_move_iterator(peer->queue.begin()),
                    std::make_move_iterator(peer->queue.begin() + static_cast<ptrdiff_t>(count)));
      peer->queue.erase(peer->queue.begin(), peer->queue.begin() + static_cast<ptrdiff_t>(count));
    }
    co_await SendBatch(replica, std::move(writes));
  }
}

asio::awaitable<void> Coordinator::Streams::SendBatch(NodeId replica,
                                                      std::vector<SharedWrite> writes) {
  Coordinator& c = coordinator_;
  v1::Envelope request;
  v1::PeerBatch* batch = request.mutable_peer_batch_request();
  for (size_t i = 0; i < writes.size(); ++i) {
    v1::Envelope* item = batch->add_items();
    item->set_id(i + 1);
    v1::ReplicaWriteRequest* write = item->mutable_replica_write_request();
    write->set_key(writes[i]->key);
    ToProto(writes[i]->version, write->mutable_version());
  }
  const Deadline deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(c.options_.replica_timeout_ms);
  Result<v1::Envelope> reply = co_await c.transport_.Call(replica, std::move(request), deadline);

  // What was not delivered, for hints: every write unless the reply says otherwise.
  std::vector<bool> delivered(writes.size(), false);
  if (reply.ok() && reply->has_peer_batch_reply()) {
    for (const v1::Envelope& item : reply->peer_batch_reply().items()) {
      if (item.id() == 0 || item.id() > writes.size()) continue;
      const Result<v1::Envelope> result = ItemResult(item);
      // A refusal by the replica's skew guard is an answer, not an outage: a hint would be
      // refused again and hold up every later hint of that replica.
      delivered[item.id() - 1] = ReplicaWriteResult(result).ok() || RefusedByClockGuard(result);
    }
  }
  if (!c.hinting()) co_return;
  // The hints get their own time: the call may have failed right at its deadline.
  const Deadline hint_deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(c.options_.replica_timeout_ms);
  for (size_t i = 0; i < writes.size(); ++i) {
    if (delivered[i]) continue;
    std::string key = writes[i]->key;
    Version version = writes[i]->version;
    (void)co_await c.StoreHint(replica, std::move(key), std::move(version),
                               hint_deadline);  // Logged there.
  }
}

}  // namespace dialkv::replication
