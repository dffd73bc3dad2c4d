#include "jepsen-like/harness/workload.h"

#include <algorithm>
#include <chrono>
#include <system_error>
#include <utility>

#include "server/common/random.h"

namespace dialkv::jepsen {
namespace {

// fail only when the operation definitely did not happen (UNAVAILABLE; OVERLOADED: refused
// unstarted, by the client's or the node's budget); info for anything else that is not a
// success (UNKNOWN, TIMEOUT, a lost connection, any other error): it may have happened.
OpType OutcomeOf(const Status& status) {
  if (status.ok() || status.code() == Code::kNotFound) return OpType::kOk;
  const bool definite = status.code() == Code::kUnavailable || status.code() == Code::kOverloaded;
  return definite ? OpType::kFail : OpType::kInfo;
}

double UnitInterval(Random& random) {
  return static_cast<double>(random.Next() >> 11) * (1.0 / 9007199254740992.0);
}

// Spreads the run's seed over the workers (splitmix64's finalizer).
uint64_t WorkerSeed(uint64_t seed, int index) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

std::string_view WorkloadName(WorkloadKind kind) {
  switch (kind) {
    case WorkloadKind::kRegister:
      return "register";
    case WorkloadKind::kLww:
      return "lww";
    case WorkloadKind::kMixed:
      return "mixed";
  }
  return "unknown";
}

Result<WorkloadKind> ParseWorkload(std::string_view text) {
  for (WorkloadKind kind : {WorkloadKind::kRegister, WorkloadKind::kLww, WorkloadKind::kMixed}) {
    if (text == WorkloadName(kind)) return kind;
  }
  return Status::InvalidArgument("unknown workload '" + std::string(text) +
                                 "'; choose register, lww or mixed");
}

Recorder::Recorder(const HistoryClock& clock, std::unique_ptr<HistoryWriter> writer)
    : clock_(clock), writer_(std::move(writer)) {}

void Recorder::Record(Op op) {
  OutcomeCounts& counts = op.mode == Consistency::kCp ? cp_ : ap_;
  if (op.type == OpType::kOk) ++counts.ok;
  if (op.type == OpType::kFail) ++counts.fail;
  if (op.type == OpType::kInfo) ++counts.info;
  std::lock_guard lock(mu_);
  if (writer_ == nullptr) return;
  op.time_ns = clock_.NowNs();
  if (Status appended = writer_->Append(op); !appended.ok() && error_.ok()) error_ = appended;
  events_.push_back(std::move(op));
}

int64_t Recorder::RecordNemesis(std::string f, std::string value) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.NowNs();
  if (writer_ == nullptr) return now;
  const NemesisOp op{.f = std::move(f), .value = std::move(value), .time_ns = now};
  if (Status appended = writer_->AppendNemesis(op); !appended.ok() && error_.ok()) {
    error_ = appended;
  }
  return now;
}

void Recorder::NoteHinted(const std::string& key, Timestamp ts) {
  std::lock_guard lock(mu_);
  Timestamp& highest = hinted_[key];
  highest = std::max(highest, ts);
}

std::map<std::string, Timestamp> Recorder::HintedWrites() const {
  std::lock_guard lock(mu_);
  return hinted_;
}

Status Recorder::status() const {
  std::lock_guard lock(mu_);
  return error_;
}

Result<std::vector<Op>> Recorder::Finish() {
  std::lock_guard lock(mu_);
  if (writer_ != nullptr) {
    if (Status closed = writer_->Close(); !closed.ok() && error_.ok()) error_ = closed;
    writer_.reset();
  }
  if (!error_.ok()) return error_;
  return std::move(events_);
}

Workload::Workload(WorkloadOptions options, const Cluster& cluster, Recorder& recorder)
    : options_(std::move(options)), cluster_(cluster), recorder_(recorder) {
  for (auto& counters : slot_ops_) {
    counters = std::make_unique<std::atomic<uint64_t>[]>(static_cast<size_t>(options_.keys));
  }
}

Workload::~Workload() { Stop(); }

Status Workload::Start() {
  std::vector<Consistency> modes;
  if (options_.kind != WorkloadKind::kLww) modes.push_back(Consistency::kCp);
  if (options_.kind != WorkloadKind::kRegister) modes.push_back(Consistency::kAp);
  workers_ = options_.concurrency * static_cast<int>(modes.size());
  int index = 0;
  for (Consistency mode : modes) {
    for (int i = 0; i < options_.concurrency; ++i, ++index) {
      try {
        threads_.emplace_back(&Workload::RunWorker, this, index, mode);
      } catch (const std::system_error& e) {
        Stop();
        return Status::Internal(std::string("cannot start a worker thread: ") + e.what());
      }
    }
  }
  return Status::Ok();
}

void Workload::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

bool Workload::Pause(double ms) {
  std::unique_lock lock(mu_);
  return !stop_cv_.wait_for(lock, std::chrono::duration<double, std::milli>(ms),
                            [this] { return stopping_; });
}

std::string Workload::KeyFor(Consistency mode, uint64_t slot) {
  const size_t m = mode == Consistency::kCp ? 0 : 1;
  const uint64_t issued = slot_ops_[m][slot]++;
  const uint64_t generation = issued / static_cast<uint64_t>(options_.ops_per_key);
  return options_.key_prefix + std::string(ConsistencyName(mode)) + "-k" + std::to_string(slot) +
         "-g" + std::to_string(generation);
}

void Workload::RunWorker(int index, Consistency mode) {
  SeededRandom random(WorkerSeed(options_.seed, index));
  const std::vector<NodeId>& nodes = cluster_.nodes();
  // Each worker's share of its mode's rate: a pause of mean concurrency / rate seconds.
  const double mean_pause_ms =
      options_.rate > 0 ? 1000.0 * options_.concurrency / options_.rate : 0.0;
  int64_t process = index;
  uint64_t written = 0;
  const RequestOptions request{.timeout_ms = options_.op_timeout_ms, .consistency = mode};
  // Operations start on a schedule (start-to-start gaps uniform in [0, 2 * mean]), so an
  // operation's own latency does not lower the rate; a slow one delays only its successor.
  auto next_start = std::chrono::steady_clock::now();
  while (true) {
    next_start += std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double, std::milli>(2 * mean_pause_ms * UnitInterval(random)));
    const auto now = std::chrono::steady_clock::now();
    if (next_start < now) next_start = now;  // Never catch up in a burst.
    if (!Pause(std::chrono::duration<double, std::milli>(next_start - now).count())) break;
    const double draw = UnitInterval(random);
    const OpFunction f = draw < options_.read_fraction ? OpFunction::kRead
                         : draw < options_.read_fraction + options_.delete_fraction
                             ? OpFunction::kDelete
                             : OpFunction::kWrite;
    const uint64_t slot = random.Uniform(static_cast<uint64_t>(options_.keys));
    const NodeId node = nodes[random.Uniform(nodes.size())];
    Op op;
    op.process = process;
    op.type = OpType::kInvoke;
    op.f = f;
    op.key = KeyFor(mode, slot);
    op.mode = mode;
    op.node = node;
    if (f == OpFunction::kWrite) {
      op.value = "p" + std::to_string(process) + "-" + std::to_string(written++);
    }
    recorder_.Record(op);

    Client& client = cluster_.client(node);
    Status status;
    if (f == OpFunction::kRead) {
      Result<GetResult> got = client.Get(op.key, request);
      status = got.status();
      op.value = got.ok() ? std::optional<std::string>(got->value) : std::nullopt;
    } else {
      Result<WriteResult> put = f == OpFunction::kWrite ? client.Put(op.key, *op.value, request)
                                                        : client.Delete(op.key, request);
      status = put.status();
      if (put.ok()) op.ts = put->timestamp;
      if (put.ok() && put->hinted) recorder_.NoteHinted(op.key, put->timestamp);
    }
    op.type = OutcomeOf(status);
    if (op.type != OpType::kOk) op.error = status.ToString();
    recorder_.Record(op);
    if (op.type == OpType::kInfo) {
      process += workers_;  // The old process may still have its operation in flight.
      written = 0;
    }
  }
}

}  // namespace dialkv::jepsen
