#pragma once
// A small metrics registry with Prometheus text exposition (format 0.0.4), shared by every
// subsystem of a node: the api registers request counters, later net, cluster and
// replication register their own.
//
// Three kinds, each a *family*: one name, one help text, a fixed list of label names, and one
// series per distinct tuple of label values.
//   Counter   — a monotonically increasing integer (requests served, bytes sent).
//   Gauge     — a value that goes up and down (queue depth); or, via AddGaugeFunc, a value
//               sampled by a callback at exposition time (keys stored, open connections).
//   Histogram — observations counted into fixed buckets (latency), plus their sum and count.
//
// Cost model: looking a series up (Family::WithLabels) takes the family's lock, so do it once,
// at set-up, and keep the reference; series live as long as the registry. Updating a series
// (Inc, Set, Add, Observe) is lock-free: relaxed atomics only. Expose() takes the registry's
// lock and each family's lock in turn; it never blocks an update.
//
// Names are checked when registered ([a-zA-Z_:][a-zA-Z0-9_:]* for metrics,
// [a-zA-Z_][a-zA-Z0-9_]* for labels, no label "le" on histograms): they are constants in our
// code, so a bad one is a programming error (DIALKV_CHECK), as is registering one name twice
// with a different kind, help, labels or buckets. Registering the same family twice returns
// the existing one.
//
// Thread-safe: every method may be called from any thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace dialkv::metrics {

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `upper_bounds` strictly increasing and finite; the +Inf bucket is implicit.
  explicit Histogram(std::vector<double> upper_bounds);

  // Counts `v` into the first bucket whose upper bound is >= v (Prometheus "le").
  void Observe(double v);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // One per upper bound, then +Inf (== count).
    double sum = 0;
  };
  // Buckets, sum and count read one after another: a snapshot taken during updates may be
  // off by the observations in flight, but its buckets are always cumulative and consistent
  // with its count.
  Snapshot Snap() const;
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

 private:
  const std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // upper_bounds_.size() + 1, not cumulative.
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, from 100 µs to 10 s: fits request latencies on loopback
// (sub-millisecond) as well as fsyncing writes and deadline-bound requests (seconds).
std::vector<double> DefaultLatencyBucketsSeconds();

// One metric name with its series. Metric is Counter, Gauge or Histogram.
template <typename Metric>
class Family {
 public:
  // The series for `label_values`, one per label name in registration order; created on first
  // use. The reference stays valid as long as the registry. Takes the family's lock: call at
  // set-up, not per request. REQUIRES: as many values as label names.
  Metric& WithLabels(const std::vector<std::string>& label_values);
  Metric& WithLabels(std::initializer_list<std::string_view> label_values);
  // The series of a family registered without labels.
  Metric& Get() { return WithLabels(std::vector<std::string>{}); }

 private:
  friend class Registry;
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> upper_bounds);
  void Expose(std::string* out) const;

  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> upper_bounds_;  // Histograms only.
  mutable std::mutex mu_;                   // Guards series_ (the map, not the metrics).
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry;

// Keeps a gauge callback registered; unregisters it when destroyed (and waits for a running
// exposition to finish with it). Move-only. Destroy it before anything the callback reads.
class GaugeFuncHandle {
 public:
  GaugeFuncHandle() = default;
  GaugeFuncHandle(GaugeFuncHandle&& other) noexcept;
  GaugeFuncHandle& operator=(GaugeFuncHandle&& other) noexcept;
  GaugeFuncHandle(const GaugeFuncHandle&) = delete;
  GaugeFuncHandle& operator=(const GaugeFuncHandle&) = delete;
  ~GaugeFuncHandle() { Reset(); }
  void Reset();

 private:
  friend class Registry;
  GaugeFuncHandle(Registry* registry, std::string name)
      : registry_(registry), name_(std::move(name)) {}
  Registry* registry_ = nullptr;
  std::string name_;
};

class Registry {
 public:
  Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  // REQUIRES: every GaugeFuncHandle of this registry was destroyed or reset.
  ~Registry();

  CounterFamily& AddCounter(std::string_view name, std::string_view help,
                            std::vector<std::string> label_names = {});
  GaugeFamily& AddGauge(std::string_view name, std::string_view help,
                        std::vector<std::string> label_names = {});
  HistogramFamily& AddHistogram(std::string_view name, std::string_view help,
                                std::vector<std::string> label_names,
                                std::vector<double> upper_bounds);

  // A label-less gauge whose value is `fn()` at each exposition. `fn` runs on the thread that
  // calls Expose(), under the registry's lock: it must be quick, must not block, must not
  // throw and must not call back into this registry.
  [[nodiscard]] GaugeFuncHandle AddGaugeFunc(std::string_view name, std::string_view help,
                                             std::function<double()> fn);

  // Every family, sorted by name, in the Prometheus text format; the body of GET /metrics.
  std::string Expose() const;

 private:
  friend class GaugeFuncHandle;
  enum class Kind { kCounter, kGauge, kHistogram, kGaugeFunc };
  struct Entry;
  Entry& AddEntry(Kind kind, std::string_view name, std::string_view help,
                  std::vector<std::string> label_names, std::vector<double> upper_bounds);
  void RemoveGaugeFunc(const std::string& name);

  mutable std::mutex mu_;  // Guards entries_ (the set of families) and each gauge callback.
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> entries_;
};

// The text format's escaping of a label value (backslash, double quote, newline) and its
// rendering of a sample value ("+Inf", "-Inf", "NaN", else the shortest exact decimal).
std::string EscapeLabelValue(std::string_view value);
std::string FormatValue(double v);

}  // namespace dialkv::metrics
