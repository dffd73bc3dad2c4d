// The initiator's side of an exchange (docs/anti-entropy.md "Exchange").

#include <algorithm>
#include <limits>
#include <map>
#include <utility>

#include "server/antientropy/anti_entropy.h"
#include "server/antientropy/internal.h"
#include "server/common/hash.h"
#include "server/net/frame.h"
#include "server/replication/wire.h"

namespace dialkv::antientropy {

// One exchange with one peer: its state and its steps. Lives in RunExchange's frame.
class AntiEntropy::Exchange {
 public:
  Exchange(AntiEntropy& ae, NodeId peer) : ae_(ae), peer_(peer) {
    report_.peer = peer;
    report_.started_ms = ae.clock_.NowMs();
  }

  asio::awaitable<void> Run();

  RoundReport& report() { return report_; }
  const std::vector<size_t>& complete_ranges() const { return complete_; }

 private:
  // Sends `request`, counts bytes both ways, and returns the reply whose body is `expected`
  // with an OK status (read by `status_of`), or the error.
  asio::awaitable<Result<v1::Envelope>> Call(v1::Envelope request, v1::Envelope::BodyCase expected);
  asio::awaitable<bool> ReconcileRanges(std::vector<size_t> ranges);
  asio::awaitable<bool> ReconcileBucket(size_t range, HashInterval interval);
  asio::awaitable<bool> Push(std::vector<std::string> keys);
  asio::awaitable<bool> Pull(std::vector<std::string> keys);
  bool Fail(Status status) {
    if (report_.status.ok()) report_.status = std::move(status);
    return false;
  }
  bool stopping() const { return ae_.service_.stopping(); }

  AntiEntropy& ae_;
  const NodeId peer_;
  RoundReport report_;
  std::vector<size_t> complete_;
};

namespace {

const v1::Status& StatusOf(const v1::Envelope& reply) {
  switch (reply.body_case()) {
    case v1::Envelope::kAeDigestsReply:
      return reply.ae_digests_reply().status();
    case v1::Envelope::kAeBucketsReply:
      return reply.ae_buckets_reply().status();
    case v1::Envelope::kAeKeysReply:
      return reply.ae_keys_reply().status();
    case v1::Envelope::kAePushReply:
      return reply.ae_push_reply().status();
    case v1::Envelope::kAePullReply:
      return reply.ae_pull_reply().status();
    default:
      return reply.error_reply().status();
  }
}

}  // namespace

asio::awaitable<Result<v1::Envelope>> AntiEntropy::Exchange::Call(v1::Envelope request,
                                                                  v1::Envelope::BodyCase expected) {
  report_.bytes_sent += request.ByteSizeLong();
  const auto deadline = ae_.steady_.Now() + std::chrono::milliseconds(ae_.options_.call_timeout_ms);
  Result<v1::Envelope> reply = co_await ae_.transport_.Call(peer_, std::move(request), deadline);
  if (!reply.ok()) co_return reply.status();
  report_.bytes_received += reply->ByteSizeLong();
  if (reply->body_case() != expected) {
    Status s = net::FromProto(StatusOf(*reply));
    if (s.ok()) {
      s = Status::Internal("the peer answered an anti-entropy request with body case " +
                           std::to_string(static_cast<int>(reply->body_case())));
    }
    co_return s;
  }
  Status s = net::FromProto(StatusOf(*reply));
  if (!s.ok()) co_return s;
  co_return std::move(reply);
}

asio::awaitable<void> AntiEntropy::Exchange::Run() {
  const std::vector<size_t> shared = ae_.SharedRanges(ae_.options_.self, peer_);
  if (shared.empty()) {
    report_.complete = true;
    co_return;
  }
  // 1. One digest over every shared range.
  v1::Envelope request;
  v1::AeDigestsRequest* digests = request.mutable_ae_digests_request();
  digests->set_ring_fingerprint(ae_.ring_fingerprint_);
  digests->set_buckets(ae_.options_.buckets);
  digests->set_combined(ae_.Combined(shared));
  Result<v1::Envelope> reply = co_await Call(std::move(request), v1::Envelope::kAeDigestsReply);
  if (!reply.ok()) {
    Fail(reply.status());
    co_return;
  }
  report_.ranges_compared = shared.size();
  const v1::AeDigestsReply& theirs = reply->ae_digests_reply();
  if (theirs.in_sync()) {
    complete_ = shared;
    report_.complete = true;
    co_return;
  }
  if (static_cast<size_t>(theirs.range_digests_size()) != shared.size()) {
    Fail(Status::Internal("the peer sent " + std::to_string(theirs.range_digests_size()) +
                          " range digests for " + std::to_string(shared.size()) +
                          " shared ranges"));
    co_return;
  }
  // 2. Per range: equal digests are done; the others go to the bucket level.
  std::vector<size_t> differing;
  for (size_t i = 0; i < shared.size(); ++i) {
    if (ae_.digests_.RangeDigest(shared[i]) == theirs.range_digests(static_cast<int>(i))) {
      complete_.push_back(shared[i]);
    } else {
      differing.push_back(shared[i]);
    }
  }
  report_.ranges_out_of_sync = differing.size();
  // Bucket digests of as many ranges per call as fit a message.
  const size_t per_call =
      std::max<size_t>(1, ae_.options_.max_message_bytes / (ae_.options_.buckets * 9));
  for (size_t i = 0; i < differing.size() && !stopping(); i += per_call) {
    std::vector<size_t> batch(
        differing.begin() + static_cast<std::ptrdiff_t>(i),
        differing.begin() + static_cast<std::ptrdiff_t>(std::min(differing.size(), i + per_call)));
    if (!co_await ReconcileRanges(std::move(batch))) break;
  }
  std::sort(complete_.begin(), complete_.end());
  report_.complete = report_.status.ok() && complete_.size() == shared.size();
}

asio::awaitable<bool> AntiEntropy::Exchange::ReconcileRanges(std::vector<size_t> ranges) {
  v1::Envelope request;
  for (size_t r : ranges) {
    request.mutable_ae_buckets_request()->add_ranges(static_cast<uint32_t>(r));
  }
  Result<v1::Envelope> reply = co_await Call(std::move(request), v1::Envelope::kAeBucketsReply);
  if (!reply.ok()) co_return Fail(reply.status());
  const uint32_t buckets = ae_.options_.buckets;
  const v1::AeBucketsReply& theirs = reply->ae_buckets_reply();
  if (static_cast<size_t>(theirs.bucket_digests_size()) != ranges.size() * buckets) {
    co_return Fail(Status::Internal(
        "the peer sent " + std::to_string(theirs.bucket_digests_size()) + " bucket digests for " +
        std::to_string(ranges.size()) + " ranges of " + std::to_string(buckets) + " buckets"));
  }
  for (size_t i = 0; i < ranges.size(); ++i) {
    bool range_ok = true;
    for (uint32_t b = 0; b < buckets && !stopping(); ++b) {
      const uint64_t their_digest = theirs.bucket_digests(static_cast<int>(i * buckets + b));
      if (ae_.digests_.BucketDigest(ranges[i], b) == their_digest) continue;
      ++report_.buckets_out_of_sync;
      std::optional<HashInterval> interval = ae_.digests_.BucketInterval(ranges[i], b);
      if (!interval.has_value()) continue;
      if (!co_await ReconcileBucket(ranges[i], *interval)) {
        range_ok = false;
        if (!report_.status.ok()) co_return false;  // A failed call: stop the exchange.
      }
    }
    if (stopping()) co_return Fail(Status::Unavailable("anti-entropy is stopping"));
    if (range_ok) complete_.push_back(ranges[i]);
  }
  co_return true;
}

// Compares one bucket, in pieces of at most max_message_bytes of entries, each ending at a
// hash boundary, and moves the newer versions both ways. Returns whether every difference was
// repaired (false with report_.status OK: a version was refused; the range is not complete).
asio::awaitable<bool> AntiEntropy::Exchange::ReconcileBucket(size_t /*range*/,
                                                             HashInterval interval) {
  struct Listed {
    Status status;
    std::vector<Entry> entries;
  };
  storage::Engine* engine = &ae_.engine_;
  auto list = [engine, interval] {
    Listed l;
    l.status = ScanInterval(
        *engine, interval, [&l](uint64_t h, std::string_view key, const storage::VersionHeader& v) {
          l.entries.push_back(Entry{h, std::string(key), v});
          return true;
        });
    return l;
  };
  Listed mine = co_await ae_.OnStorage<Listed>(std::move(list));
  if (!mine.status.ok()) co_return Fail(mine.status);
  const std::vector<Entry>& entries = mine.entries;
  bool repaired = true;
  size_t next = 0;                   // First entry not yet compared.
  uint64_t cursor = interval.first;  // First hash not yet compared.
  // Each step moves `cursor` forward within the bucket (a resume must lie past it, checked
  // below), so the loop ends however many pieces the peer splits its own listing into.
  while (!stopping()) {
    v1::Envelope request;
    v1::AeKeysRequest* keys = request.mutable_ae_keys_request();
    size_t end = next;
    size_t bytes = 0;
    while (end < entries.size() && (end == next || bytes < ae_.options_.max_message_bytes ||
                                    entries[end].key_hash == entries[end - 1].key_hash)) {
      const Entry& e = entries[end];
      v1::AeEntry* out = keys->add_entries();
      out->set_key(e.key);
      out->set_hlc(e.header.timestamp.hlc);
      out->set_node_id(e.header.timestamp.node_id);
      out->set_tombstone(e.header.tombstone);
      bytes += EntryWireBytes(e.key.size());
      ++end;
    }
    const uint64_t last = end < entries.size() ? entries[end].key_hash - 1 : interval.last;
    keys->set_first_hash(cursor);
    keys->set_last_hash(last);
    Result<v1::Envelope> reply = co_await Call(std::move(request), v1::Envelope::kAeKeysReply);
    if (!reply.ok()) co_return Fail(reply.status());
    v1::AeKeysReply& diff = *reply->mutable_ae_keys_reply();
    std::vector<std::string> want(std::make_move_iterator(diff.mutable_want()->begin()),
                                  std::make_move_iterator(diff.mutable_want()->end()));
    std::vector<std::string> newer(std::make_move_iterator(diff.mutable_newer()->begin()),
                                   std::make_move_iterator(diff.mutable_newer()->end()));
    if (!want.empty() && !co_await Push(std::move(want))) {
      if (!report_.status.ok()) co_return false;
      repaired = false;
    }
    if (!newer.empty() && !co_await Pull(std::move(newer))) {
      if (!report_.status.ok()) co_return false;
      repaired = false;
    }
    const HashInterval piece{cursor, last};
    if (diff.more()) {
      const uint64_t resume = diff.resume_hash();
      if (!piece.Contains(resume) || resume == cursor) {
        co_return Fail(Status::Internal("the peer asked to resume a key comparison outside it"));
      }
      while (next < entries.size() &&
             interval.Offset(entries[next].key_hash) < interval.Offset(resume)) {
        ++next;
      }
      cursor = resume;
      continue;
    }
    if (end >= entries.size()) co_return repaired;
    next = end;
    cursor = entries[end].key_hash;
  }
  co_return Fail(Status::Unavailable("anti-entropy stopped during a key comparison"));
}

asio::awaitable<bool> AntiEntropy::Exchange::Push(std::vector<std::string> keys) {
  struct Read {
    Status status;
    std::vector<std::pair<std::string, Version>> versions;
    size_t next = 0;
  };
  bool all = true;
  size_t next = 0;
  while (next < keys.size() && !stopping()) {
    // Read this node's versions, up to a message's worth of bytes.
    storage::Engine* engine = &ae_.engine_;
    const size_t budget = ae_.options_.max_message_bytes;
    auto read = [engine, &keys, next, budget] {
      Read r;
      size_t bytes = 0;
      size_t i = next;
      for (; i < keys.size() && (i == next || bytes < budget); ++i) {
        Result<Version> v = engine->Get(keys[i]);
        if (v.status().IsNotFound()) continue;  // Purged meanwhile: nothing to push.
        if (!v.ok()) {
          r.status = v.status();
          break;
        }
        bytes += keys[i].size() + v->value.size() + 32;
        r.versions.emplace_back(keys[i], std::move(*v));
      }
      r.next = i;
      return r;
    };
    Read batch = co_await ae_.OnStorage<Read>(std::move(read));
    if (!batch.status.ok()) co_return Fail(batch.status);
    next = batch.next;
    if (batch.versions.empty()) continue;
    co_await ae_.limiter_.Take(batch.versions.size(), [this] { return stopping(); });
    v1::Envelope request;
    for (auto& [key, version] : batch.versions) {
      v1::AeVersion* out = request.mutable_ae_push_request()->add_versions();
      out->set_key(std::move(key));
      replication::ToProto(version, out->mutable_version());
    }
    Result<v1::Envelope> reply = co_await Call(std::move(request), v1::Envelope::kAePushReply);
    if (!reply.ok()) co_return Fail(reply.status());
    const v1::AePushReply& pushed = reply->ae_push_reply();
    report_.keys_pushed += pushed.applied();
    if (pushed.refused() > 0) all = false;
  }
  co_return all;
}

asio::awaitable<bool> AntiEntropy::Exchange::Pull(std::vector<std::string> keys) {
  bool all = true;
  size_t next = 0;
  // Each call answers at least one key.
  for (size_t calls = 0; next < keys.size() && calls < keys.size() && !stopping(); ++calls) {
    v1::Envelope request;
    size_t bytes = 0;
    size_t count = 0;
    for (size_t i = next; i < keys.size() && (i == next || bytes < ae_.options_.max_message_bytes);
         ++i) {
      request.mutable_ae_pull_request()->add_keys(keys[i]);
      bytes += keys[i].size() + 4;
      ++count;
    }
    co_await ae_.limiter_.Take(count, [this] { return stopping(); });
    Result<v1::Envelope> reply = co_await Call(std::move(request), v1::Envelope::kAePullReply);
    if (!reply.ok()) co_return Fail(reply.status());
    v1::AePullReply& pulled = *reply->mutable_ae_pull_reply();
    if (pulled.answered() == 0 || pulled.answered() > count ||
        static_cast<size_t>(pulled.versions_size()) > pulled.answered()) {
      co_return Fail(Status::Internal("the peer answered a pull of " + std::to_string(count) +
                                      " keys with " + std::to_string(pulled.answered())));
    }
    next += pulled.answered();
    for (v1::AeVersion& item : *pulled.mutable_versions()) {
      Version version = replication::FromProto(item.version());
      if (version.timestamp.IsZero()) continue;  // The peer no longer holds it.
      if (item.key().empty() || (version.tombstone && !version.value.empty())) {
        co_return Fail(Status::Internal("the peer sent an invalid version in a pull reply"));
      }
      const auto deadline =
          ae_.steady_.Now() + std::chrono::milliseconds(ae_.options_.call_timeout_ms);
      Result<storage::ApplyOutcome> applied =
          co_await ae_.ApplyRepair(std::move(*item.mutable_key()), std::move(version), deadline);
      if (!applied.ok()) {
        // Refused by this node's skew guard, or a storage error: not repaired this time.
        DIALKV_LOG_DEBUG(Log(Subsystem::kAe), "node={} peer={} pulled version not applied: {}",
                         ae_.options_.self, peer_, applied.status().ToString());
        all = false;
        if (applied.code() != Code::kInvalidArgument) co_return Fail(applied.status());
        continue;
      }
      if (*applied == storage::ApplyOutcome::kApplied) ++report_.keys_pulled;
    }
  }
  if (next < keys.size()) co_return Fail(Status::Unavailable("the pull did not finish"));
  co_return all;
}

asio::awaitable<AntiEntropy::RoundReport> AntiEntropy::RunExchange(NodeId peer) {
  Exchange exchange(*this, peer);
  co_await exchange.Run();
  Record(exchange.report(), exchange.complete_ranges());
  RoundReport& report = exchange.report();
  if (report.ranges_out_of_sync > 0 || !report.status.ok()) {
    Log(Subsystem::kAe)
        .info(
            "node={} peer={} exchange: {} of {} ranges differed, {} buckets; pushed {} pulled {}; "
            "{} bytes sent, {} received; {}",
            options_.self, peer, report.ranges_out_of_sync, report.ranges_compared,
            report.buckets_out_of_sync, report.keys_pushed, report.keys_pulled, report.bytes_sent,
            report.bytes_received,
            report.status.ok() ? (report.complete ? "complete" : "partial")
                               : "failed: " + report.status.ToString());
  }
  co_return std::move(report);
}

}  // namespace dialkv::antientropy
