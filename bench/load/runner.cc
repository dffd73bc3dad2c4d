#include "bench/load/runner.h"

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <random>
#include <utility>

#include "bench/load/staleness.h"

namespace dialkv::bench {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::nanoseconds;
constexpr auto kAsTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kSecond{1};
constexpr std::chrono::milliseconds kWaitStep{100};

Clock::duration Seconds(double s) { return duration_cast<Clock::duration>(duration<double>(s)); }

// Counts tasks down; Wait() returns once all have finished.
class Latch {
 public:
  explicit Latch(const asio::any_io_executor& executor)
      : timer_(executor, Clock::time_point::max()) {}
  void Add() { ++count_; }
  void Done() {
    if (--count_ == 0) timer_.cancel();
  }
  asio::awaitable<void> Wait() {
    while (count_ > 0) co_await timer_.async_wait(kAsTuple);
  }

 private:
  asio::steady_timer timer_;
  int count_ = 0;
};

// Everything the workers of one run share. Lives in RunLoad's frame, which outlives every
// coroutine of the run (the io_context runs until they are done).
struct State {
  State(const LoadOptions& l, const BackendOptions& b, FaultSchedule f, asio::io_context& io)
      : load(l),
        backend(b),
        fault(f),
        executor(io.get_executor()),
        chooser(l.distribution, l.keys, l.zipf_theta),
        value(l.value_bytes, 'v'),
        latch(executor) {
    if (l.check_staleness) staleness.emplace(l.keys);
    keys.reserve(load.keys);
    for (uint64_t i = 0; i < load.keys; ++i) keys.push_back(KeyName(i));
    // A value that is not one repeated byte, so no layer can compress it away.
    for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>('a' + (i * 7 + 3) % 26);
  }

  const LoadOptions& load;
  const BackendOptions& backend;
  const FaultSchedule fault;
  asio::any_io_executor executor;
  KeyChooser chooser;
  std::vector<std::string> keys;
  std::string value;
  std::vector<std::unique_ptr<BenchConnection>> connections;
  Latch latch;
  std::optional<StalenessTracker> staleness;  // With LoadOptions::check_staleness.

  Status error;
  uint64_t prefill_next = 0;
  uint64_t prefill_errors = 0;
  Code prefill_error = Code::kOk;
  bool measuring = false;
  bool stop = false;
  Clock::time_point measure_start, measure_end = Clock::time_point::max();
  Clock::time_point last_completion;
  uint64_t started = 0;  // Operations started during measurement.
  // Open loop: when operation 0 was due, the next operation's number, and how the measured
  // ones kept to their schedule.
  Clock::time_point schedule_start;
  uint64_t next_slot = 0;
  uint64_t late = 0;
  uint64_t max_lag_ns = 0;
  RunStats stats;
  std::vector<FaultInterval> faults;

  // The side of connection number `index`: where it starts (BackendOptions::failover).
  Side SideOf(size_t index) const {
    return load.isolated_endpoint.has_value() &&
                   index % backend.endpoints.size() == *load.isolated_endpoint
               ? Side::kIsolated
               : Side::kMajority;
  }

  // One put of key number `key` through `c`, tagged and tracked when staleness is checked.
  asio::awaitable<Code> Put(BenchConnection* c, size_t key) {
    std::string v = value;
    uint64_t id = 0;
    if (staleness) id = staleness->BeginWrite(&v, Clock::now());
    const Code code = co_await c->Put(keys[key], std::move(v));
    if (staleness) staleness->EndWrite(id, key, code == Code::kOk, Clock::now());
    co_return code;
  }

  void Spawn(asio::awaitable<void> task) {
    latch.Add();
    asio::co_spawn(executor, std::move(task), [this](const std::exception_ptr& e) {
      if (e && error.ok()) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          error = Status::Internal(std::string("load task threw: ") + ex.what());
        }
      }
      latch.Done();
    });
  }
};

// `s` outlives the coroutine (see State); so does `c`, owned by s->connections.
asio::awaitable<void> Prefill(State* s, BenchConnection* c) {
  while (s->prefill_next < s->keys.size() && s->prefill_errors == 0) {
    const Code code = co_await s->Put(c, s->prefill_next++);
    if (code != Code::kOk) {
      ++s->prefill_errors;
      s->prefill_error = code;
    }
  }
}

asio::awaitable<void> Worker(State* s, BenchConnection* c, uint64_t seed, Side side) {
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution read(s->load.read_ratio);
  while (!s->stop) {
    const bool is_read = read(rng);
    const size_t key = s->chooser.Next(rng);
    // Closed loop: now. Open loop: the intended start of the next operation due.
    Clock::time_point t0 = Clock::now();
    bool counted = s->measuring;
    if (s->load.rate > 0) {
      t0 = s->schedule_start + Seconds(static_cast<double>(s->next_slot++) / s->load.rate);
      while (!s->stop && Clock::now() < t0) {
        // In steps, so a run that ends does not wait for the slot of a slow schedule.
        asio::steady_timer timer(s->executor, std::min(t0, Clock::now() + kWaitStep));
        co_await timer.async_wait(kAsTuple);
      }
      if (s->stop) break;
      counted = s->measuring && t0 >= s->measure_start;
    }
    if (counted && s->load.ops > 0 && s->started >= s->load.ops) {
      s->stop = true;
      break;
    }
    if (counted) ++s->started;
    if (counted && s->load.rate > 0) {
      const Clock::duration lag = Clock::now() - t0;
      s->max_lag_ns =
          std::max(s->max_lag_ns, static_cast<uint64_t>(duration_cast<nanoseconds>(lag).count()));
      if (lag >= kOpenLoopLateAfter) ++s->late;
    }
    Code code;
    std::optional<bool> stale;  // Set for a successful read that was checked.
    if (is_read) {
      std::optional<StalenessTracker::ReadStart> start;
      if (s->staleness) start = s->staleness->BeginRead(key);
      std::string value;
      code = co_await c->Get(s->keys[key], start ? &value : nullptr);
      if (start && IsSuccess(code)) {
        stale = s->staleness->IsStale(
            *start, code == Code::kOk ? std::optional<std::string_view>(value) : std::nullopt);
      }
    } else {
      code = co_await s->Put(c, key);
    }
    const Clock::time_point t1 = Clock::now();
    if (!counted || t1 > s->measure_end) continue;
    s->last_completion = std::max(s->last_completion, t1);
    const auto second = static_cast<size_t>((t1 - s->measure_start) / kSecond);
    s->stats.Record(is_read ? OpKind::kGet : OpKind::kPut, code,
                    static_cast<uint64_t>(duration_cast<nanoseconds>(t1 - t0).count()), second,
                    side);
    if (stale.has_value()) s->stats.RecordCheckedRead(*stale, second, side);
  }
}

double SecondsSince(const State& s, Clock::time_point t) {
  return duration<double>(t - s.measure_start).count();
}

asio::awaitable<void> Fault(State* s) {
  asio::steady_timer timer(s->executor);
  timer.expires_at(s->measure_start + Seconds(s->fault.start_s));
  co_await timer.async_wait(kAsTuple);
  if (s->stop) co_return;
  FaultInterval interval{.start_s = 0, .end_s = 0, .label = s->fault.control->label()};
  Status injected = co_await s->fault.control->Inject();
  interval.start_s = SecondsSince(*s, Clock::now());
  if (!injected.ok()) {
    if (s->error.ok())
      s->error = Status(injected.code(), "injecting the fault: " + injected.message());
    s->stop = true;
  } else {
    if (s->load.progress)
      std::fprintf(stderr, "[%5.1fs] fault: %s\n", interval.start_s, interval.label.c_str());
    timer.expires_at(s->measure_start + Seconds(s->fault.start_s + s->fault.length_s));
    while (!s->stop && Clock::now() < timer.expiry()) {
      // Wakes every 100 ms to heal at once when the run ends early.
      asio::steady_timer tick(s->executor, std::chrono::milliseconds(100));
      co_await tick.async_wait(kAsTuple);
    }
  }
  Status healed = co_await s->fault.control->Heal();
  interval.end_s = SecondsSince(*s, Clock::now());
  if (!healed.ok() && s->error.ok()) {
    s->error = Status(healed.code(), "healing the fault: " + healed.message());
  }
  if (s->load.progress) std::fprintf(stderr, "[%5.1fs] healed\n", interval.end_s);
  s->faults.push_back(std::move(interval));
}

void PrintSecond(const State& s, size_t index) {
  if (index >= s.stats.seconds().size()) {
    std::fprintf(stderr, "[%4zus] no operation completed\n", index + 1);
    return;
  }
  const SecondStats& sec = s.stats.seconds()[index];
  std::string stale;
  if (sec.checked_reads > 0) {
    stale = "  stale reads " + std::to_string(sec.stale_reads) + "/" +
            std::to_string(sec.checked_reads);
  }
  std::fprintf(stderr, "[%4zus] %8llu ops/s  errors %llu  p50 %.3f ms  p99 %.3f ms%s\n", index + 1,
               static_cast<unsigned long long>(sec.successes),
               static_cast<unsigned long long>(sec.errors), sec.latency.Percentile(0.5) / 1e6,
               sec.latency.Percentile(0.99) / 1e6, stale.c_str());
}

asio::awaitable<void> RunPhases(State* s) {
  for (size_t i = 0; i < s->load.connections; ++i) {
    Result<std::unique_ptr<BenchConnection>> c = MakeConnection(s->backend, s->executor, i);
    if (!c.ok()) {
      s->error = c.status();
      co_return;
    }
    Status opened = co_await (*c)->Open();
    if (!opened.ok()) {
      s->error = Status(opened.code(), "connection " + std::to_string(i) + ": " + opened.message());
      co_return;
    }
    s->connections.push_back(std::move(c).value());
  }
  if (s->load.prefill && s->load.read_ratio > 0) {
    for (auto& c : s->connections) {
      for (size_t p = 0; p < s->load.pipeline; ++p) s->Spawn(Prefill(s, c.get()));
    }
    co_await s->latch.Wait();
    if (s->prefill_errors > 0) {
      s->error = Status::Unavailable("prefill: a put failed with " +
                                     std::string(CodeName(s->prefill_error)));
      co_return;
    }
  }
  uint64_t seed = s->load.seed * 1'000'003;
  s->schedule_start = Clock::now();
  for (size_t i = 0; i < s->connections.size(); ++i) {
    for (size_t p = 0; p < s->load.pipeline; ++p) {
      s->Spawn(Worker(s, s->connections[i].get(), ++seed, s->SideOf(i)));
    }
  }
  asio::steady_timer timer(s->executor);
  if (s->load.warmup_s > 0) {
    if (s->load.progress) std::fprintf(stderr, "warming up for %.1f s\n", s->load.warmup_s);
    timer.expires_after(Seconds(s->load.warmup_s));
    co_await timer.async_wait(kAsTuple);
  }
  s->measure_start = Clock::now();
  s->measuring = true;
  if (s->fault.control != nullptr) s->Spawn(Fault(s));
  const bool by_ops = s->load.ops > 0;
  for (size_t second = 0; !s->stop; ++second) {
    timer.expires_at(s->measure_start + kSecond * (second + 1));
    co_await timer.async_wait(kAsTuple);
    if (s->load.progress) PrintSecond(*s, second);
    if (!by_ops && second + 1 >= static_cast<size_t>(std::ceil(s->load.duration_s))) break;
  }
  if (!by_ops) s->measure_end = s->measure_start + Seconds(s->load.duration_s);
  s->stop = true;
  co_await s->latch.Wait();
}

// Closes the connections however the run ended, so their readers end and the io_context runs
// out of work.
asio::awaitable<void> Run(State* s) {
  std::exception_ptr thrown;
  try {
    co_await RunPhases(s);
  } catch (...) {
    thrown = std::current_exception();
  }
  // Also after an exception: dialkv clients run on this io_context, whose run() would
  // otherwise never return.
  for (auto& c : s->connections) c->Close();
  if (thrown) std::rethrow_exception(thrown);
}

}  // namespace

Result<RunResult> RunLoad(const LoadOptions& load, const BackendOptions& backend,
                          FaultSchedule fault) {
  if (load.connections == 0 || load.pipeline == 0 || load.keys == 0) {
    return Status::InvalidArgument("--connections, --pipeline and --keys must be at least 1");
  }
  if (!(load.rate >= 0)) return Status::InvalidArgument("--rate must be >= 0");
  if (load.read_ratio < 0 || load.read_ratio > 1) {
    return Status::InvalidArgument("--read-ratio must be within 0..1");
  }
  if (load.check_staleness && load.value_bytes < StalenessTracker::kTagBytes) {
    return Status::InvalidArgument("checking reads for staleness needs --value-bytes of at least " +
                                   std::to_string(StalenessTracker::kTagBytes) +
                                   " (each value starts with the tag of its write)");
  }
  if (load.isolated_endpoint.has_value() && *load.isolated_endpoint >= backend.endpoints.size()) {
    return Status::InvalidArgument("the isolated endpoint is not one of --endpoints");
  }
  asio::io_context io;
  State state(load, backend, fault, io);
  std::exception_ptr thrown;
  asio::co_spawn(io, Run(&state), [&thrown](std::exception_ptr e) { thrown = std::move(e); });
  io.run();
  if (thrown) {
    try {
      std::rethrow_exception(thrown);
    } catch (const std::exception& e) {
      return Status::Internal(std::string("load generator threw: ") + e.what());
    }
  }
  // Destroy the connections (dialkv clients join their threads) before the io_context.
  state.connections.clear();
  if (!state.error.ok()) return state.error;
  RunResult result;
  result.seconds = load.ops > 0 ? SecondsSince(state, state.last_completion) : load.duration_s;
  result.stats = std::move(state.stats);
  result.faults = std::move(state.faults);
  if (load.rate > 0) {
    result.open_loop = OpenLoopStats{
        .offered_per_s = load.rate,
        .achieved_per_s = result.seconds > 0
                              ? static_cast<double>(result.stats.all().total()) / result.seconds
                              : 0,
        .started = state.started,
        .late = state.late,
        .max_lag_ns = state.max_lag_ns};
  }
  return result;
}

}  // namespace dialkv::bench
