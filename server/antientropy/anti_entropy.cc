#include "server/antientropy/anti_entropy.h"

#include <xxhash.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <utility>

#include "server/antientropy/internal.h"
#include "server/common/check.h"
#include "server/common/hash.h"

namespace dialkv::antientropy {
namespace {

// Exchanges, collections and served requests at once: a backstop, not a tuning knob.
constexpr size_t kMaxTasks = 4096;
// Tombstones purged per storage call during a collection.
constexpr size_t kPurgeBatch = 512;

uint64_t RingFingerprint(const cluster::Ring& ring) {
  std::string bytes;
  auto put = [&bytes](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes.push_back(static_cast<char>(v >> (8 * i)));
  };
  put(ring.replication_factor(), 4);
  for (const cluster::Ring::Token& token : ring.tokens()) {
    put(token.position, 8);
    put(token.node, 4);
  }
  return XXH64(bytes.data(), bytes.size(), 0);
}

bool Contains(std::span<const NodeId> nodes, NodeId node) {
  return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}

BackgroundService::Options ServiceOptions(const AntiEntropy::Options& options) {
  BackgroundService::Options service;
  service.name = "the anti-entropy loop";
  service.subsystem = Subsystem::kAe;
  service.interval_ms = options.interval_ms;  // 0: no periodic rounds.
  service.max_tasks = kMaxTasks;
  return service;
}

// The run-now key of repair rounds (the only one).
constexpr uint64_t kRepairKey = 0;

}  // namespace

struct AntiEntropy::Metrics {
  explicit Metrics(metrics::Registry& r)
      : rounds(r.AddCounter("dialkv_ae_rounds_total",
                            "Anti-entropy exchanges this node started, by result: complete (every "
                            "shared range reconciled), partial, failed.",
                            {"result"})),
        complete(rounds.WithLabels({"complete"})),
        partial(rounds.WithLabels({"partial"})),
        failed(rounds.WithLabels({"failed"})),
        ranges_compared(r.AddCounter("dialkv_ae_ranges_compared_total",
                                     "Ranges whose digests an exchange compared.")
                            .Get()),
        ranges_out_of_sync(r.AddCounter("dialkv_ae_ranges_out_of_sync_total",
                                        "Compared ranges whose digests differed.")
                               .Get()),
        keys(r.AddCounter("dialkv_ae_keys_total",
                          "Versions anti-entropy moved: pushed (applied by the peer) or pulled "
                          "(applied here).",
                          {"direction"})),
        pushed(keys.WithLabels({"pushed"})),
        pulled(keys.WithLabels({"pulled"})),
        bytes(r.AddCounter("dialkv_ae_bytes_total",
                           "Bytes of anti-entropy messages of exchanges this node started.",
                           {"direction"})),
        bytes_sent(bytes.WithLabels({"sent"})),
        bytes_received(bytes.WithLabels({"received"})),
        purged(r.AddCounter("dialkv_ae_tombstones_purged_total",
                            "Tombstones collected after their grace period and full rounds.")
                   .Get()),
        repair_rounds(r.AddCounter("dialkv_ae_repair_rounds_total",
                                   "Repair rounds run for repair requests (an exchange with "
                                   "every live peer, then a tombstone collection pass).")
                          .Get()),
        repair_coalesced(r.AddCounter("dialkv_ae_repair_requests_coalesced_total",
                                      "Repair requests answered by a round that an earlier "
                                      "request had already caused, instead of one of their own.")
                             .Get()),
        range_last_full(r.AddGauge("dialkv_ae_range_last_full_round_timestamp_seconds",
                                   "Per range this node replicates: when the oldest of the last "
                                   "complete exchanges with its other replicas started (0: never "
                                   "since start).",
                                   {"range"})),
        oldest_full(r.AddGauge("dialkv_ae_oldest_full_round_timestamp_seconds",
                               "The minimum over ranges of "
                               "dialkv_ae_range_last_full_round_timestamp_seconds.")
                        .Get()) {}

  metrics::CounterFamily& rounds;
  metrics::Counter& complete;
  metrics::Counter& partial;
  metrics::Counter& failed;
  metrics::Counter& ranges_compared;
  metrics::Counter& ranges_out_of_sync;
  metrics::CounterFamily& keys;
  metrics::Counter& pushed;
  metrics::Counter& pulled;
  metrics::CounterFamily& bytes;
  metrics::Counter& bytes_sent;
  metrics::Counter& bytes_received;
  metrics::Counter& purged;
  metrics::Counter& repair_rounds;
  metrics::Counter& repair_coalesced;
  metrics::GaugeFamily& range_last_full;
  metrics::Gauge& oldest_full;
  std::vector<metrics::Gauge*> per_range;  // Indexed by range; null where not a replica.
};

Result<std::unique_ptr<AntiEntropy>> AntiEntropy::Create(
    Options options, storage::Engine& engine, const cluster::Ring& ring,
    cluster::Membership& membership, net::Transport& transport, replication::LocalReplica& local,
    const Clock& clock, metrics::Registry* metrics, const MonotonicClock& steady) {
  if (options.buckets == 0 || options.buckets > DigestTable::kMaxBuckets) {
    return Status::InvalidArgument("anti-entropy buckets must be between 1 and " +
                                   std::to_string(DigestTable::kMaxBuckets));
  }
  if (options.call_timeout_ms == 0 || options.max_message_bytes < 1024) {
    return Status::InvalidArgument(
        "anti-entropy call_timeout_ms must be > 0 and max_message_bytes >= 1024");
  }
  std::unique_ptr<AntiEntropy> ae(
      new AntiEntropy(options, engine, ring, membership, transport, local, clock, metrics, steady));
  const MonotonicClock::TimePoint started = steady.Now();
  DIALKV_RETURN_IF_ERROR(ae->digests_.Rebuild(engine));
  if (!engine.SetChangeObserver(&ae->digests_)) {
    return Status::InvalidArgument("this storage engine cannot report changes to anti-entropy");
  }
  ae->observing_ = true;
  Log(Subsystem::kAe)
      .info(
          "node={} digests of {} ranges x {} buckets rebuilt in {} ms; interval {} ms, gc grace {} "
          "s, at most {} keys/s",
          options.self, ae->digests_.ranges(), options.buckets,
          std::chrono::duration_cast<std::chrono::milliseconds>(steady.Now() - started).count(),
          options.interval_ms, options.gc_grace_s, options.max_keys_per_s);
  return ae;
}

AntiEntropy::AntiEntropy(Options options, storage::Engine& engine, const cluster::Ring& ring,
                         cluster::Membership& membership, net::Transport& transport,
                         replication::LocalReplica& local, const Clock& clock,
                         metrics::Registry* metrics, const MonotonicClock& steady)
    : options_(options),
      engine_(engine),
      ring_(ring),
      membership_(membership),
      transport_(transport),
      local_(local),
      clock_(clock),
      steady_(steady),
      ring_fingerprint_(RingFingerprint(ring)),
      digests_(ring, options.buckets, clock, int64_t{options.gc_grace_s} * 1000),
      limiter_(options.max_keys_per_s, steady),
      random_(options.seed),
      service_(ServiceOptions(options), steady, [this] { return Tick(); }) {
  if (metrics != nullptr) {
    metrics_ = std::make_unique<Metrics>(*metrics);
    metrics_->per_range.assign(ring.tokens().size(), nullptr);
    for (size_t r = 0; r < ring.tokens().size(); ++r) {
      if (Contains(ring.ReplicasOfRange(r), options.self)) {
        metrics_->per_range[r] = &metrics_->range_last_full.WithLabels({std::to_string(r)});
      }
    }
  }
  if (options.storage_thread) storage_ = std::make_unique<asio::thread_pool>(1);
  last_full_ms_.resize(ring.tokens().size());
  for (size_t r = 0; r < ring.tokens().size(); ++r) {
    last_full_ms_[r].assign(ring.ReplicasOfRange(r).size(), 0);
  }
}

AntiEntropy::~AntiEntropy() {
  Stop();
  if (observing_) engine_.SetChangeObserver(nullptr);
}

void AntiEntropy::Start(asio::any_io_executor executor) { (void)service_.Start(executor); }

void AntiEntropy::Stop() {
  service_.Stop();
  bool join = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    join = !joined_;
    joined_ = true;
  }
  if (join && storage_ != nullptr) storage_->join();  // Nothing is queued: every task ended.
}

asio::awaitable<void> AntiEntropy::Tick() {
  if (std::optional<NodeId> peer = NextPeer(); peer.has_value()) {
    RoundReport report = co_await RunExchange(*peer);
    if (!report.status.ok()) {
      DIALKV_LOG_DEBUG(Log(Subsystem::kAe), "node={} peer={} exchange failed: {}", options_.self,
                       *peer, report.status.ToString());
    }
  }
  if (service_.stopping()) co_return;
  GcReport gc = co_await RunGc();
  if (!gc.status.ok()) {
    Log(Subsystem::kAe)
        .warn("node={} tombstone collection failed: {}", options_.self, gc.status.ToString());
  }
}

std::vector<size_t> AntiEntropy::SharedRanges(NodeId a, NodeId b) const {
  std::vector<size_t> out;
  for (size_t r = 0; r < ring_.tokens().size(); ++r) {
    std::span<const NodeId> replicas = ring_.ReplicasOfRange(r);
    if (Contains(replicas, a) && Contains(replicas, b)) out.push_back(r);
  }
  return out;
}

std::optional<NodeId> AntiEntropy::NextPeer() {
  std::lock_guard<std::mutex> lock(mu_);
  // Each peer once per cycle, in a fresh random order each cycle: random like gossip, but no
  // peer waits more than two cycles, which bounds how stale a range's last full round gets.
  for (int attempt = 0; attempt < 2; ++attempt) {
    while (!peer_order_.empty()) {
      const NodeId peer = peer_order_.back();
      peer_order_.pop_back();
      if (membership_.IsAlive(peer)) return peer;
    }
    for (NodeId node : ring_.nodes()) {
      if (node != options_.self && !SharedRanges(options_.self, node).empty()) {
        peer_order_.push_back(node);
      }
    }
    for (size_t i = peer_order_.size(); i > 1; --i) {
      std::swap(peer_order_[i - 1], peer_order_[random_.Uniform(i)]);
    }
  }
  return std::nullopt;
}

// Repair requests coalesce (docs/anti-entropy.md "Repair requests"). A request joins the round
// that has not started yet, if there is one; otherwise it makes one, which starts at once when
// no round is running, else as soon as the running one ends. A round that already started is
// never joined: it may have compared some ranges before the request arrived, so it need not
// include what the requester wrote just before. Each answer therefore comes from a round that
// started after its request arrived, and any number of requests cost at most two rounds: the
// running one and the next.
asio::awaitable<std::vector<AntiEntropy::RoundReport>> AntiEntropy::RunRoundNow() {
  // A repair round is a run-now key of the service, whose runs coalesce exactly so.
  std::function<asio::awaitable<std::vector<RoundReport>>()> round = [this] {
    return RunRepairRound();
  };
  std::string what = "a repair round";  // Named: a coroutine's prvalue argument (GCC 12).
  BackgroundService::Answer<std::vector<RoundReport>> answer =
      co_await service_.RunNowAndWait(kRepairKey, std::move(what), std::move(round));
  if (answer.joined) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++repair_coalesced_;
    }
    if (metrics_ != nullptr) metrics_->repair_coalesced.Inc();
  }
  // Empty: stopping (answered with no exchanges), or the round threw (logged).
  co_return answer.result.has_value() ? std::move(*answer.result) : std::vector<RoundReport>();
}

asio::awaitable<std::vector<AntiEntropy::RoundReport>> AntiEntropy::RunRepairRound() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++repair_rounds_;
  }
  if (metrics_ != nullptr) metrics_->repair_rounds.Inc();
  std::vector<RoundReport> reports;
  for (NodeId node : ring_.nodes()) {
    if (node == options_.self || !membership_.IsAlive(node) ||
        SharedRanges(options_.self, node).empty()) {
      continue;
    }
    reports.push_back(co_await RunExchange(node));
    if (service_.stopping()) break;
  }
  if (!service_.stopping()) {
    GcReport gc = co_await RunGc();
    if (!gc.status.ok()) {
      Log(Subsystem::kAe)
          .warn("node={} tombstone collection failed: {}", options_.self, gc.status.ToString());
    }
  }
  co_return reports;
}

asio::awaitable<AntiEntropy::RoundReport> AntiEntropy::ExchangeWith(NodeId peer) {
  BackgroundService::Slot slot = service_.TryEnter();
  if (!slot) {
    RoundReport refused;
    refused.peer = peer;
    refused.status = Status::Unavailable("anti-entropy is stopping");
    co_return refused;
  }
  co_return co_await RunExchange(peer);
}

asio::awaitable<AntiEntropy::GcReport> AntiEntropy::CollectGarbage() {
  BackgroundService::Slot slot = service_.TryEnter();
  if (!slot) {
    GcReport refused;
    refused.status = Status::Unavailable("anti-entropy is stopping");
    co_return refused;
  }
  co_return co_await RunGc();
}

uint64_t AntiEntropy::Combined(const std::vector<size_t>& ranges) const {
  std::string bytes;
  bytes.reserve(ranges.size() * 8);
  for (size_t r : ranges) {
    const uint64_t d = digests_.RangeDigest(r);
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>(d >> (8 * i)));
  }
  return XXH64(bytes.data(), bytes.size(), 0);
}

void AntiEntropy::Record(const RoundReport& report, const std::vector<size_t>& complete_ranges) {
  const int64_t now_ms = clock_.NowMs();
  int64_t oldest = std::numeric_limits<int64_t>::max();
  std::vector<std::pair<size_t, int64_t>> range_times;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++rounds_;
    for (size_t r : complete_ranges) {
      std::span<const NodeId> replicas = ring_.ReplicasOfRange(r);
      for (size_t i = 0; i < replicas.size(); ++i) {
        if (replicas[i] == report.peer) {
          last_full_ms_[r][i] = std::max(last_full_ms_[r][i], report.started_ms);
        }
      }
    }
    for (size_t r = 0; r < last_full_ms_.size(); ++r) {
      if (!Contains(ring_.ReplicasOfRange(r), options_.self)) continue;
      const int64_t t = LastFullRoundLocked(r, now_ms);
      oldest = std::min(oldest, t);
      range_times.emplace_back(r, t);
    }
  }
  if (metrics_ == nullptr) return;
  if (!report.status.ok() && report.ranges_compared == 0) {
    metrics_->failed.Inc();
  } else {
    (report.complete ? metrics_->complete : metrics_->partial).Inc();
  }
  metrics_->ranges_compared.Inc(report.ranges_compared);
  metrics_->ranges_out_of_sync.Inc(report.ranges_out_of_sync);
  metrics_->pushed.Inc(report.keys_pushed);
  metrics_->pulled.Inc(report.keys_pulled);
  metrics_->bytes_sent.Inc(report.bytes_sent);
  metrics_->bytes_received.Inc(report.bytes_received);
  for (const auto& [r, t] : range_times) {
    if (metrics_->per_range[r] != nullptr)
      metrics_->per_range[r]->Set(static_cast<double>(t) / 1e3);
  }
  if (oldest != std::numeric_limits<int64_t>::max()) {
    metrics_->oldest_full.Set(static_cast<double>(oldest) / 1e3);
  }
}

int64_t AntiEntropy::LastFullRoundLocked(size_t range, int64_t now_ms) const {
  std::span<const NodeId> replicas = ring_.ReplicasOfRange(range);
  int64_t oldest = now_ms;  // No other replica: nothing to wait for.
  for (size_t i = 0; i < replicas.size(); ++i) {
    if (replicas[i] != options_.self) oldest = std::min(oldest, last_full_ms_[range][i]);
  }
  return oldest;
}

bool AntiEntropy::Collectable(uint64_t key_hash, const Timestamp& timestamp) const {
  const size_t range = digests_.RangeOf(key_hash);
  if (!Contains(ring_.ReplicasOfRange(range), options_.self)) return false;
  int64_t full_ms = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    full_ms = LastFullRoundLocked(range, clock_.NowMs());
  }
  const auto wall_ms = static_cast<int64_t>(timestamp.wall_ms());
  return wall_ms + int64_t{options_.gc_grace_s} * 1000 < full_ms &&
         digests_.late_tombstone_ms(range) < full_ms;
}

asio::awaitable<Result<storage::ApplyOutcome>> AntiEntropy::ApplyRepair(std::string key,
                                                                        Version version,
                                                                        net::Deadline deadline) {
  if (version.tombstone && Collectable(KeyHash(key), version.timestamp)) {
    storage::Engine* engine = &engine_;
    auto held = [engine, &key] { return !engine->Get(key).status().IsNotFound(); };
    if (!co_await OnStorage<bool>(std::move(held))) co_return storage::ApplyOutcome::kSuperseded;
  }
  co_return co_await local_.Apply(std::move(key), std::move(version), deadline);
}

AntiEntropy::StatusReport AntiEntropy::GetStatus() const {
  StatusReport status;
  const int64_t now_ms = clock_.NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  int64_t oldest = std::numeric_limits<int64_t>::max();
  for (size_t r = 0; r < last_full_ms_.size(); ++r) {
    std::span<const NodeId> replicas = ring_.ReplicasOfRange(r);
    if (!Contains(replicas, options_.self)) continue;
    RangeStatus range;
    range.range = r;
    range.replicas.assign(replicas.begin(), replicas.end());
    range.last_full_round_ms = LastFullRoundLocked(r, now_ms);
    range.tombstones = digests_.tombstones(r);
    oldest = std::min(oldest, range.last_full_round_ms);
    status.ranges.push_back(std::move(range));
  }
  status.oldest_full_round_ms = oldest == std::numeric_limits<int64_t>::max() ? now_ms : oldest;
  status.rounds = rounds_;
  status.purged = purged_;
  status.repair_rounds = repair_rounds_;
  status.repair_requests_coalesced = repair_coalesced_;
  return status;
}

// Tombstone collection (docs/anti-entropy.md "Tombstone collection"). For range r, with F the
// start of the oldest last complete exchange with r's other replicas: a tombstone of wall time
// w is purged iff w + grace < F and the last late tombstone arrival of r was before F. Then
// every other replica held it (or newer) when an exchange that started after w + grace ended,
// and this node held it when that exchange started.
asio::awaitable<AntiEntropy::GcReport> AntiEntropy::RunGc() {
  GcReport report;
  // One collection at a time: the periodic one and an on-demand one share each range's scan
  // bound (DigestTable::BeginTombstoneScan), which a second scan would reset under the first.
  if (gc_running_.exchange(true)) co_return report;
  struct Done {
    std::atomic<bool>* running;
    ~Done() { running->store(false); }
  } done{&gc_running_};
  const int64_t grace_ms = int64_t{options_.gc_grace_s} * 1000;
  for (size_t r = 0; r < ring_.tokens().size() && !service_.stopping(); ++r) {
    if (!Contains(ring_.ReplicasOfRange(r), options_.self) || digests_.tombstones(r) == 0) {
      continue;
    }
    int64_t full_ms = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      full_ms = LastFullRoundLocked(r, clock_.NowMs());
    }
    const int64_t horizon_ms = full_ms - grace_ms;  // Tombstones older than this may go.
    if (digests_.late_tombstone_ms(r) >= full_ms) continue;
    if (digests_.oldest_tombstone_ms(r) >= horizon_ms) continue;
    ++report.ranges_scanned;
    digests_.BeginTombstoneScan(r);
    struct Candidates {
      Status status;
      std::vector<std::pair<std::string, Timestamp>> purge;
      int64_t oldest_left_ms = std::numeric_limits<int64_t>::max();
    };
    const HashInterval interval = digests_.RangeInterval(r);
    auto scan = [this, interval, horizon_ms] {
      Candidates c;
      c.status = ScanInterval(
          engine_, interval,
          [&c, horizon_ms](uint64_t, std::string_view key, const storage::VersionHeader& h) {
            if (!h.tombstone) return true;
            const auto wall_ms = static_cast<int64_t>(h.timestamp.wall_ms());
            if (wall_ms < horizon_ms) {
              c.purge.emplace_back(std::string(key), h.timestamp);
            } else {
              c.oldest_left_ms = std::min(c.oldest_left_ms, wall_ms);
            }
            return true;
          });
      return c;
    };
    Candidates candidates = co_await OnStorage<Candidates>(std::move(scan));
    if (!candidates.status.ok()) {
      report.status = candidates.status;
      digests_.FinishTombstoneScan(r, std::numeric_limits<int64_t>::min());
      break;
    }
    struct Purged {
      Status status;
      uint64_t purged = 0;
      bool restored = false;
    };
    for (size_t i = 0; i < candidates.purge.size(); i += kPurgeBatch) {
      const size_t end = std::min(candidates.purge.size(), i + kPurgeBatch);
      auto purge = [this, &candidates, i, end, r, full_ms] {
        Purged p;
        std::vector<size_t> done;
        for (size_t j = i; j < end; ++j) {
          Result<bool> purged =
              engine_.PurgeTombstone(candidates.purge[j].first, candidates.purge[j].second);
          if (!purged.ok()) {
            p.status = purged.status();
            break;
          }
          if (*purged) done.push_back(j);
        }
        // A tombstone of this range that arrived already past its grace (its OnChange may have
        // run after the scan's snapshot saw it) voids the rule for this pass: put back what this
        // batch removed (a newer write in between wins, as always).
        if (digests_.late_tombstone_ms(r) >= full_ms) {
          for (size_t j : done) {
            const Version tombstone{std::string(), candidates.purge[j].second, true};
            (void)engine_.ApplyIfNewer(candidates.purge[j].first, tombstone);
          }
          p.restored = true;
          return p;
        }
        p.purged = done.size();
        return p;
      };
      Purged purged = co_await OnStorage<Purged>(std::move(purge));
      report.purged += purged.purged;
      if (!purged.status.ok() || purged.restored) {
        report.status = purged.status;
        break;
      }
    }
    // Candidates left (an error, a stop) keep the bound low, so the next pass looks again.
    digests_.FinishTombstoneScan(
        r, report.status.ok() ? candidates.oldest_left_ms : std::numeric_limits<int64_t>::min());
    if (!report.status.ok()) break;
  }
  if (report.purged > 0) {
    Log(Subsystem::kAe).info("node={} purged {} tombstones", options_.self, report.purged);
    std::lock_guard<std::mutex> lock(mu_);
    purged_ += report.purged;
  }
  if (metrics_ != nullptr) metrics_->purged.Inc(report.purged);
  co_return report;
}

}  // namespace dialkv::antientropy
