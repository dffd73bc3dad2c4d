// The responder's side of an exchange: what this node answers to a peer's anti-entropy
// requests (docs/anti-entropy.md "Exchange"). Every request is checked against the ring: a
// peer may only compare and repair ranges both nodes replicate.

#include <algorithm>
#include <map>
#include <utility>

#include "server/antientropy/anti_entropy.h"
#include "server/antientropy/internal.h"
#include "server/common/hash.h"
#include "server/net/frame.h"
#include "server/replication/wire.h"

namespace dialkv::antientropy {
namespace {

template <typename Reply>
Reply Refuse(const Status& status) {
  Reply reply;
  net::ToProto(status, reply.mutable_status());
  return reply;
}

template <typename Reply>
void SetOk(Reply* reply) {
  reply->mutable_status()->set_code(v1::STATUS_OK);
}

bool Contains(std::span<const NodeId> nodes, NodeId node) {
  return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}

}  // namespace

asio::awaitable<v1::Envelope> AntiEntropy::Handle(NodeId from, v1::Envelope request) {
  BackgroundService::Slot slot = service_.TryEnter();
  if (!slot) {
    v1::Envelope reply;
    net::ToProto(Status::Unavailable("anti-entropy is stopping or not running on this node"),
                 reply.mutable_error_reply()->mutable_status());
    co_return reply;
  }
  co_return co_await Serve(from, std::move(request));
}

asio::awaitable<v1::Envelope> AntiEntropy::Serve(NodeId from, v1::Envelope request) {
  v1::Envelope reply;
  switch (request.body_case()) {
    case v1::Envelope::kAeDigestsRequest:
      *reply.mutable_ae_digests_reply() = ServeDigests(from, request.ae_digests_request());
      break;
    case v1::Envelope::kAeBucketsRequest:
      *reply.mutable_ae_buckets_reply() = ServeBuckets(from, request.ae_buckets_request());
      break;
    case v1::Envelope::kAeKeysRequest:
      *reply.mutable_ae_keys_reply() =
          co_await ServeKeys(from, std::move(*request.mutable_ae_keys_request()));
      break;
    case v1::Envelope::kAePushRequest:
      *reply.mutable_ae_push_reply() =
          co_await ServePush(from, std::move(*request.mutable_ae_push_request()));
      break;
    case v1::Envelope::kAePullRequest:
      *reply.mutable_ae_pull_reply() =
          co_await ServePull(from, std::move(*request.mutable_ae_pull_request()));
      break;
    default:
      net::ToProto(Status::InvalidArgument("not an anti-entropy request"),
                   reply.mutable_error_reply()->mutable_status());
      break;
  }
  co_return reply;
}

v1::AeDigestsReply AntiEntropy::ServeDigests(NodeId from,
                                             const v1::AeDigestsRequest& request) const {
  if (request.ring_fingerprint() != ring_fingerprint_) {
    return Refuse<v1::AeDigestsReply>(Status::InvalidArgument(
        "node " + std::to_string(from) + " and node " + std::to_string(options_.self) +
        " build different rings; check that --peers, --vnodes and --replication-factor are the "
        "same on every node"));
  }
  if (request.buckets() != options_.buckets) {
    return Refuse<v1::AeDigestsReply>(Status::InvalidArgument(
        "anti-entropy bucket counts differ: " + std::to_string(request.buckets()) + " on node " +
        std::to_string(from) + ", " + std::to_string(options_.buckets) + " here"));
  }
  v1::AeDigestsReply reply;
  SetOk(&reply);
  const std::vector<size_t> shared = SharedRanges(options_.self, from);
  if (Combined(shared) == request.combined()) {
    reply.set_in_sync(true);
    return reply;
  }
  for (size_t r : shared) reply.add_range_digests(digests_.RangeDigest(r));
  return reply;
}

v1::AeBucketsReply AntiEntropy::ServeBuckets(NodeId from,
                                             const v1::AeBucketsRequest& request) const {
  if (static_cast<size_t>(request.ranges_size()) > ring_.tokens().size()) {
    return Refuse<v1::AeBucketsReply>(Status::InvalidArgument("too many ranges"));
  }
  v1::AeBucketsReply reply;
  for (uint32_t r : request.ranges()) {
    if (r >= ring_.tokens().size() || !Contains(ring_.ReplicasOfRange(r), options_.self) ||
        !Contains(ring_.ReplicasOfRange(r), from)) {
      return Refuse<v1::AeBucketsReply>(Status::InvalidArgument(
          "range " + std::to_string(r) + " is not replicated by both nodes " +
          std::to_string(from) + " and " + std::to_string(options_.self)));
    }
    for (uint32_t b = 0; b < options_.buckets; ++b) {
      reply.add_bucket_digests(digests_.BucketDigest(r, b));
    }
  }
  SetOk(&reply);
  return reply;
}

asio::awaitable<v1::AeKeysReply> AntiEntropy::ServeKeys(NodeId from, v1::AeKeysRequest request) {
  const HashInterval interval{request.first_hash(), request.last_hash()};
  const size_t range = digests_.RangeOf(interval.first);
  const HashInterval whole = digests_.RangeInterval(range);
  if (!Contains(ring_.ReplicasOfRange(range), options_.self) ||
      !Contains(ring_.ReplicasOfRange(range), from) || !whole.Contains(interval.last) ||
      whole.Offset(interval.last) < whole.Offset(interval.first)) {
    co_return Refuse<v1::AeKeysReply>(
        Status::InvalidArgument("a key comparison must lie within one range both nodes replicate"));
  }
  // This node's entries of the interval, up to a message's worth; `resume` is the first hash
  // left out when it stops early (at a hash boundary, so no hash is split).
  struct Listed {
    Status status;
    std::vector<Entry> entries;
    bool more = false;
    uint64_t resume = 0;
  };
  storage::Engine* engine = &engine_;
  const size_t budget = options_.max_message_bytes;
  auto list = [engine, interval, budget] {
    Listed l;
    size_t bytes = 0;
    l.status = ScanInterval(
        *engine, interval,
        [&l, &bytes, budget](uint64_t h, std::string_view key, const storage::VersionHeader& v) {
          if (bytes >= budget && !l.entries.empty() && l.entries.back().key_hash != h) {
            l.more = true;
            l.resume = h;
            return false;
          }
          bytes += EntryWireBytes(key.size());
          l.entries.push_back(Entry{h, std::string(key), v});
          return true;
        });
    return l;
  };
  Listed mine = co_await OnStorage<Listed>(std::move(list));
  if (!mine.status.ok()) co_return Refuse<v1::AeKeysReply>(mine.status);

  // The initiator's entries within what this reply covers, by key.
  const uint64_t limit = mine.more ? interval.Offset(mine.resume) : interval.last - interval.first;
  std::map<std::string, Timestamp, std::less<>> theirs;
  for (v1::AeEntry& e : *request.mutable_entries()) {
    const uint64_t h = KeyHash(e.key());
    if (!interval.Contains(h)) continue;  // Not ours to compare: ignored.
    const uint64_t offset = interval.Offset(h);
    if (mine.more ? offset >= limit : offset > limit) continue;
    theirs.emplace(std::move(*e.mutable_key()), Timestamp{e.hlc(), e.node_id()});
  }
  v1::AeKeysReply reply;
  for (const Entry& e : mine.entries) {
    auto it = theirs.find(e.key);
    if (it == theirs.end()) {
      reply.add_newer(e.key);
      continue;
    }
    if (e.header.timestamp > it->second) {
      reply.add_newer(e.key);
    } else if (it->second > e.header.timestamp) {
      reply.add_want(e.key);
    }
    theirs.erase(it);
  }
  for (auto& [key, ts] : theirs) reply.add_want(key);
  reply.set_more(mine.more);
  if (mine.more) reply.set_resume_hash(mine.resume);
  SetOk(&reply);
  co_return reply;
}

asio::awaitable<v1::AePushReply> AntiEntropy::ServePush(NodeId from, v1::AePushRequest request) {
  v1::AePushReply reply;
  const auto deadline = steady_.Now() + std::chrono::milliseconds(options_.call_timeout_ms);
  uint32_t applied = 0;
  uint32_t superseded = 0;
  uint32_t refused = 0;
  for (v1::AeVersion& item : *request.mutable_versions()) {
    Version version = replication::FromProto(item.version());
    const std::string& key = item.key();
    if (key.empty() || key.size() > options_.max_key_bytes ||
        version.value.size() > options_.max_value_bytes || version.timestamp.IsZero() ||
        (version.tombstone && !version.value.empty()) || !Contains(ring_.ReplicasFor(key), from) ||
        !Contains(ring_.ReplicasFor(key), options_.self)) {
      ++refused;
      continue;
    }
    Result<storage::ApplyOutcome> outcome =
        co_await ApplyRepair(std::move(*item.mutable_key()), std::move(version), deadline);
    if (!outcome.ok()) {
      ++refused;  // The skew guard, a storage error, the deadline: not applied (or unknown).
    } else if (*outcome == storage::ApplyOutcome::kApplied) {
      ++applied;
    } else {
      ++superseded;
    }
  }
  reply.set_applied(applied);
  reply.set_superseded(superseded);
  reply.set_refused(refused);
  SetOk(&reply);
  co_return reply;
}

asio::awaitable<v1::AePullReply> AntiEntropy::ServePull(NodeId from, v1::AePullRequest request) {
  struct Read {
    Status status;
    v1::AePullReply reply;
  };
  storage::Engine* engine = &engine_;
  const cluster::Ring* ring = &ring_;
  const NodeId self = options_.self;
  const size_t budget = options_.max_message_bytes;
  auto read = [engine, ring, self, from, budget, &request] {
    Read r;
    size_t bytes = 0;
    uint32_t answered = 0;
    for (const std::string& key : request.keys()) {
      if (answered > 0 && bytes >= budget) break;
      ++answered;
      if (!Contains(ring->ReplicasFor(key), from) || !Contains(ring->ReplicasFor(key), self)) {
        r.status = Status::InvalidArgument("a pulled key is not replicated by both nodes");
        break;
      }
      v1::AeVersion* out = r.reply.add_versions();
      out->set_key(key);
      Result<Version> v = engine->Get(key);
      if (v.status().IsNotFound()) continue;  // Answered with an empty version.
      if (!v.ok()) {
        r.status = v.status();
        break;
      }
      bytes += key.size() + v->value.size() + 32;
      replication::ToProto(*v, out->mutable_version());
    }
    r.reply.set_answered(answered);
    return r;
  };
  Read r = co_await OnStorage<Read>(std::move(read));
  if (!r.status.ok()) co_return Refuse<v1::AePullReply>(r.status);
  SetOk(&r.reply);
  co_return std::move(r.reply);
}

}  // namespace dialkv::antientropy
