#include "server/replication/hint_store.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "proto/dialkv.pb.h"
#include "server/common/hash.h"
#include "server/common/logging.h"
#include "server/replication/wire.h"

namespace dialkv::replication {
namespace {

constexpr uint8_t kPayloadFormat = 1;
constexpr size_t kPayloadHeaderBytes = 1 + 8;  // Format byte, created_ms.
constexpr std::string_view kPeersMetaName = "hint_peers";

void AppendLittleEndian(uint64_t v, size_t bytes, std::string* out) {
  for (size_t i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t ReadLittleEndian(std::string_view in, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  }
  return v;
}

std::string EncodePayload(int64_t created_ms, std::string_view key, const Version& version) {
  v1::ReplicaWriteRequest request;
  request.set_key(std::string(key));
  ToProto(version, request.mutable_version());
  std::string out;
  out.reserve(kPayloadHeaderBytes + request.ByteSizeLong());
  out.push_back(static_cast<char>(kPayloadFormat));
  AppendLittleEndian(static_cast<uint64_t>(created_ms), 8, &out);
  request.AppendToString(&out);
  return out;
}

// Errors: kCorruption.
Status DecodePayload(std::string_view payload, HintStore::Hint* hint) {
  if (payload.size() < kPayloadHeaderBytes || static_cast<uint8_t>(payload[0]) != kPayloadFormat) {
    return Status::Corruption("hint payload of " + std::to_string(payload.size()) +
                              " bytes has no format-1 header");
  }
  hint->created_ms = static_cast<int64_t>(ReadLittleEndian(payload.substr(1), 8));
  v1::ReplicaWriteRequest request;
  const std::string_view body = payload.substr(kPayloadHeaderBytes);
  if (!request.ParseFromArray(body.data(), static_cast<int>(body.size())) ||
      request.key().empty()) {
    return Status::Corruption("hint payload does not hold a replica write");
  }
  hint->key = std::move(*request.mutable_key());
  hint->version = FromProto(request.version());
  hint->bytes = payload.size();
  return Status::Ok();
}

std::string EncodePeers(const std::set<NodeId>& peers) {
  std::string out;
  for (NodeId peer : peers) AppendLittleEndian(peer, 4, &out);
  return out;
}

// A key as a log can show it: printable ASCII as is, other bytes as \xNN, at most 64 bytes.
std::string LoggableKey(std::string_view key) {
  constexpr size_t kMaxBytes = 64;
  std::string out;
  for (size_t i = 0; i < key.size() && i < kMaxBytes; ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  if (key.size() > kMaxBytes) out += "...(" + std::to_string(key.size()) + " bytes)";
  return out;
}

constexpr HintStore::DropReason kDropReasons[] = {
    HintStore::DropReason::kExpired, HintStore::DropReason::kStoreFull,
    HintStore::DropReason::kStoreFailed, HintStore::DropReason::kCorrupt};

}  // namespace

std::string_view HintStore::DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kExpired:
      return "expired";
    case DropReason::kStoreFull:
      return "store_full";
    case DropReason::kStoreFailed:
      return "store_failed";
    case DropReason::kCorrupt:
      return "corrupt";
  }
  return "unknown";
}

HintStore::HintStore(const Options& options, storage::Engine& engine, const Clock& clock)
    : options_(options), engine_(engine), clock_(clock) {
  if (options_.metrics == nullptr) return;
  metrics::CounterFamily& dropped = options_.metrics->AddCounter(
      "dialkv_hints_dropped_total",
      "Hints lost, by reason (expired: older than --hint-max-age-s; store_full: not recorded, "
      "the peer's hint budget was used up; store_failed: not recorded after a storage error, "
      "a deadline or shutdown; corrupt: unreadable). Their replicas wait for anti-entropy.",
      {"reason"});
  for (DropReason reason : kDropReasons) {
    dropped_[static_cast<size_t>(reason)] = &dropped.WithLabels({DropReasonName(reason)});
  }
}

void HintStore::CountDropped(NodeId peer, std::string_view key, DropReason reason,
                             std::string_view why) {
  if (metrics::Counter* counter = dropped_[static_cast<size_t>(reason)]) counter->Inc();
  uint64_t suppressed = 0;
  if (drop_log_limiter_.Allow(&suppressed)) {
    Log(Subsystem::kRepl)
        .warn(
            "peer={} key={} key_hash={:016x} hint lost ({}): {}; the replica waits for "
            "anti-entropy{}",
            peer, LoggableKey(key), KeyHash(key), DropReasonName(reason), why,
            LogLimiter::SuppressedNote(suppressed));
  }
}

Status HintStore::Drop(NodeId peer, const Hint& hint, DropReason reason) {
  DIALKV_RETURN_IF_ERROR(Remove(peer, hint));
  std::string why;
  if (reason == DropReason::kExpired) {
    why = "hint " + std::to_string(hint.sequence) + " older than " +
          std::to_string(options_.max_age.count()) + " ms";
  } else {
    why = "hint " + std::to_string(hint.sequence);
  }
  CountDropped(peer, hint.key, reason, why);
  return Status::Ok();
}

void HintStore::CountNotStored(NodeId peer, std::string_view key, const Status& why) {
  CountDropped(peer, key,
               why.code() == Code::kOverloaded ? DropReason::kStoreFull : DropReason::kStoreFailed,
               why.ToString());
}

Result<std::unique_ptr<HintStore>> HintStore::Open(const Options& options, storage::Engine& engine,
                                                   const Clock& clock) {
  std::unique_ptr<HintStore> store(new HintStore(options, engine, clock));
  DIALKV_RETURN_IF_ERROR(store->Recover());
  return store;
}

Status HintStore::Recover() {
  Result<std::string> peers = engine_.GetMeta(kPeersMetaName);
  if (!peers.ok() && !peers.status().IsNotFound()) return peers.status();
  if (peers.ok()) {
    if (peers->size() % 4 != 0) {
      return Status::Corruption("meta \"hint_peers\" holds " + std::to_string(peers->size()) +
                                " bytes, not a list of 4-byte node ids");
    }
    for (size_t i = 0; i < peers->size(); i += 4) {
      known_peers_.insert(
          static_cast<NodeId>(ReadLittleEndian(std::string_view(*peers).substr(i), 4)));
    }
  }
  uint64_t max_sequence = 0;
  for (NodeId peer : known_peers_) {
    PeerStats stats;
    Status scanned = engine_.ScanHints(peer, [&](uint64_t sequence, std::string_view payload) {
      max_sequence = std::max(max_sequence, sequence);
      ++stats.hints;
      stats.bytes += payload.size();
      return true;
    });
    DIALKV_RETURN_IF_ERROR(scanned);
    if (stats.hints > 0) {
      stats_[peer] = stats;
      Log(Subsystem::kRepl)
          .info("peer={} has {} hints ({} bytes) waiting for replay", peer, stats.hints,
                stats.bytes);
    }
  }
  next_sequence_ = max_sequence + 1;
  return Status::Ok();
}

Status HintStore::RememberPeerLocked(NodeId peer) {
  if (known_peers_.count(peer) > 0) return Status::Ok();
  std::set<NodeId> peers = known_peers_;
  peers.insert(peer);
  DIALKV_RETURN_IF_ERROR(engine_.PutMeta(kPeersMetaName, EncodePeers(peers)));
  known_peers_ = std::move(peers);
  return Status::Ok();
}

Status HintStore::Add(NodeId peer, std::string_view key, const Version& version) {
  const std::string payload = EncodePayload(clock_.NowMs(), key, version);
  uint64_t sequence = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PeerStats& stats = stats_[peer];
    if (payload.size() >
        options_.max_bytes_per_peer - std::min(stats.bytes, options_.max_bytes_per_peer)) {
      return Status::Overloaded(
          "hints for node " + std::to_string(peer) + " hold " + std::to_string(stats.bytes) +
          " bytes; a hint of " + std::to_string(payload.size()) +
          " bytes would exceed the budget of " + std::to_string(options_.max_bytes_per_peer) +
          " bytes per peer; not recorded (anti-entropy will repair)");
    }
    // Before the first hint of a peer is stored, so that Open() finds it after a crash.
    DIALKV_RETURN_IF_ERROR(RememberPeerLocked(peer));
    sequence = next_sequence_++;
    stats.bytes += payload.size();  // Charged now, so that concurrent Adds see it.
    ++stats.hints;
  }
  Status stored = engine_.PutHint(peer, sequence, payload);
  if (!stored.ok()) {
    Forget(peer, payload.size());
    return stored;
  }
  return Status::Ok();
}

Result<std::vector<HintStore::Hint>> HintStore::Peek(NodeId peer, size_t max_hints) {
  std::vector<Hint> hints;
  std::vector<std::pair<uint64_t, uint64_t>> corrupt;  // (sequence, bytes)
  Status scanned = engine_.ScanHints(peer, [&](uint64_t sequence, std::string_view payload) {
    Hint hint;
    hint.sequence = sequence;
    Status decoded = DecodePayload(payload, &hint);
    if (!decoded.ok()) {
      Log(Subsystem::kRepl)
          .error("peer={} hint {} is corrupt and is dropped: {}", peer, sequence,
                 decoded.message());
      corrupt.emplace_back(sequence, payload.size());
    } else {
      hints.push_back(std::move(hint));
    }
    return hints.size() + corrupt.size() < max_hints;
  });
  DIALKV_RETURN_IF_ERROR(scanned);
  for (const auto& [sequence, bytes] : corrupt) {
    DIALKV_RETURN_IF_ERROR(engine_.DeleteHint(peer, sequence));
    Forget(peer, bytes);
    CountDropped(peer, "?", DropReason::kCorrupt,
                 "hint " + std::to_string(sequence) + " does not decode");
  }
  return hints;
}

Status HintStore::Remove(NodeId peer, const Hint& hint) {
  DIALKV_RETURN_IF_ERROR(engine_.DeleteHint(peer, hint.sequence));
  Forget(peer, hint.bytes);
  return Status::Ok();
}

void HintStore::Forget(NodeId peer, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  PeerStats& stats = stats_[peer];
  stats.bytes -= std::min(stats.bytes, bytes);
  stats.hints -= std::min<uint64_t>(stats.hints, 1);
}

bool HintStore::Expired(const Hint& hint) const {
  // Aged from the version's own time when that is older than the hint: a read repair may hint
  // a version written long ago, and a hint must never outlive max_age counted from its
  // version's write, or it could bring back a value whose tombstone anti-entropy already
  // collected (--gc-grace-s > --hint-max-age-s relies on this).
  const int64_t born =
      std::min(hint.created_ms, static_cast<int64_t>(hint.version.timestamp.wall_ms()));
  return clock_.NowMs() - born > options_.max_age.count();
}

std::vector<NodeId> HintStore::PeersWithHints() const {
  std::vector<NodeId> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [peer, stats] : stats_) {
    if (stats.hints > 0) out.push_back(peer);
  }
  return out;
}

HintStore::PeerStats HintStore::StatsFor(NodeId peer) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = stats_.find(peer);
  return it == stats_.end() ? PeerStats{} : it->second;
}

}  // namespace dialkv::replication
