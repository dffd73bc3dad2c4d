#include "server/common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#include "server/common/check.h"

namespace dialkv::metrics {
namespace {

bool ValidName(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="x",b="y"}` with `extra` (already rendered, e.g. `le="0.5"`) last; empty if no labels.
std::string LabelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     std::string_view extra = {}) {
  if (names.empty() && extra.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
  if (!extra.empty()) {
    if (!names.empty()) out += ',';
    out += extra;
  }
  out += '}';
  return out;
}

void AppendHeader(std::string_view name, std::string_view help, std::string_view type,
                  std::string* out) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += EscapeHelp(help);
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

void AppendSample(std::string_view name, std::string_view labels, std::string_view value,
                  std::string* out) {
  *out += name;
  *out += labels;
  *out += ' ';
  *out += value;
  *out += '\n';
}

template <typename Metric>
constexpr std::string_view TypeName() {
  if constexpr (std::is_same_v<Metric, Counter>) {
    return "counter";
  } else if constexpr (std::is_same_v<Metric, Gauge>) {
    return "gauge";
  } else {
    static_assert(std::is_same_v<Metric, Histogram>);
    return "histogram";
  }
}

std::unique_ptr<Histogram> MakeSeries(const std::vector<double>& bounds, Histogram*) {
  return std::make_unique<Histogram>(bounds);
}
template <typename Metric>
std::unique_ptr<Metric> MakeSeries(const std::vector<double>&, Metric*) {
  return std::make_unique<Metric>();
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::general);
  DIALKV_CHECK(ec == std::errc());
  return std::string(buf, end);
}

std::vector<double> DefaultLatencyBucketsSeconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(upper_bounds_.size() + 1)) {
  for (size_t i = 0; i < upper_bounds_.size(); ++i) {
    DIALKV_CHECK(std::isfinite(upper_bounds_[i]));
    DIALKV_CHECK(i == 0 || upper_bounds_[i - 1] < upper_bounds_[i]);
  }
}

void Histogram::Observe(double v) {
  if (std::isnan(v)) return;
  const auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), v);
  counts_[static_cast<size_t>(it - upper_bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Snap() const {
  Snapshot s;
  s.cumulative.resize(upper_bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

template <typename Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                       std::vector<double> upper_bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      upper_bounds_(std::move(upper_bounds)) {}

template <typename Metric>
Metric& Family<Metric>::WithLabels(const std::vector<std::string>& label_values) {
  DIALKV_CHECK(label_values.size() == label_names_.size());
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = series_[label_values];
  if (slot == nullptr) slot = MakeSeries(upper_bounds_, static_cast<Metric*>(nullptr));
  return *slot;
}

template <typename Metric>
Metric& Family<Metric>::WithLabels(std::initializer_list<std::string_view> label_values) {
  return WithLabels(std::vector<std::string>(label_values.begin(), label_values.end()));
}

template <typename Metric>
void Family<Metric>::Expose(std::string* out) const {
  AppendHeader(name_, help_, TypeName<Metric>(), out);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, metric] : series_) {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      const Histogram::Snapshot snap = metric->Snap();
      const std::string bucket = name_ + "_bucket";
      for (size_t i = 0; i < snap.cumulative.size(); ++i) {
        const double le =
            i < upper_bounds_.size() ? upper_bounds_[i] : std::numeric_limits<double>::infinity();
        const std::string extra = "le=\"" + FormatValue(le) + "\"";
        AppendSample(bucket, LabelSet(label_names_, values, extra),
                     std::to_string(snap.cumulative[i]), out);
      }
      const std::string labels = LabelSet(label_names_, values);
      AppendSample(name_ + "_sum", labels, FormatValue(snap.sum), out);
      AppendSample(name_ + "_count", labels, std::to_string(snap.cumulative.back()), out);
    } else if constexpr (std::is_same_v<Metric, Counter>) {
      AppendSample(name_, LabelSet(label_names_, values), std::to_string(metric->Value()), out);
    } else {
      AppendSample(name_, LabelSet(label_names_, values), FormatValue(metric->Value()), out);
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

struct Registry::Entry {
  Kind kind;
  std::string help;
  std::vector<std::string> label_names;
  std::vector<double> upper_bounds;
  std::unique_ptr<CounterFamily> counters;
  std::unique_ptr<GaugeFamily> gauges;
  std::unique_ptr<HistogramFamily> histograms;
  std::function<double()> fn;
};

Registry::Registry() = default;

Registry::~Registry() {
  for (const auto& [name, entry] : entries_) DIALKV_CHECK(entry->kind != Kind::kGaugeFunc);
}

Registry::Entry& Registry::AddEntry(Kind kind, std::string_view name, std::string_view help,
                                    std::vector<std::string> label_names,
                                    std::vector<double> upper_bounds) {
  DIALKV_CHECK(ValidName(name, /*allow_colon=*/true));
  for (const std::string& label : label_names) {
    DIALKV_CHECK(ValidName(label, /*allow_colon=*/false));
    DIALKV_CHECK(label.rfind("__", 0) != 0);
    DIALKV_CHECK(kind != Kind::kHistogram || label != "le");
  }
  // Caller holds mu_.
  auto it = entries_.find(name);
  if (it != entries_.end()) {
    Entry& existing = *it->second;
    DIALKV_CHECK(kind != Kind::kGaugeFunc && existing.kind == kind && existing.help == help &&
                 existing.label_names == label_names && existing.upper_bounds == upper_bounds);
    return existing;
  }
  auto entry = std::make_unique<Entry>();
  entry->kind = kind;
  entry->help = std::string(help);
  entry->label_names = label_names;
  entry->upper_bounds = upper_bounds;
  std::string n(name);
  switch (kind) {
    case Kind::kCounter:
      entry->counters.reset(new CounterFamily(n, entry->help, std::move(label_names), {}));
      break;
    case Kind::kGauge:
      entry->gauges.reset(new GaugeFamily(n, entry->help, std::move(label_names), {}));
      break;
    case Kind::kHistogram:
      entry->histograms.reset(
          new HistogramFamily(n, entry->help, std::move(label_names), std::move(upper_bounds)));
      break;
    case Kind::kGaugeFunc:
      break;
  }
  Entry& ref = *entry;
  entries_.emplace(std::move(n), std::move(entry));
  return ref;
}

CounterFamily& Registry::AddCounter(std::string_view name, std::string_view help,
                                    std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  return *AddEntry(Kind::kCounter, name, help, std::move(label_names), {}).counters;
}

GaugeFamily& Registry::AddGauge(std::string_view name, std::string_view help,
                                std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  return *AddEntry(Kind::kGauge, name, help, std::move(label_names), {}).gauges;
}

HistogramFamily& Registry::AddHistogram(std::string_view name, std::string_view help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> upper_bounds) {
  // Checked here, once, rather than in every series' constructor only when first used.
  Histogram check(upper_bounds);
  std::lock_guard<std::mutex> lock(mu_);
  return *AddEntry(Kind::kHistogram, name, help, std::move(label_names), std::move(upper_bounds))
              .histograms;
}

GaugeFuncHandle Registry::AddGaugeFunc(std::string_view name, std::string_view help,
                                       std::function<double()> fn) {
  DIALKV_CHECK(fn != nullptr);
  std::lock_guard<std::mutex> lock(mu_);
  AddEntry(Kind::kGaugeFunc, name, help, {}, {}).fn = std::move(fn);
  return GaugeFuncHandle(this, std::string(name));
}

void Registry::RemoveGaugeFunc(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(name);
  DIALKV_CHECK(it != entries_.end() && it->second->kind == Kind::kGaugeFunc);
  entries_.erase(it);
}

std::string Registry::Expose() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, entry] : entries_) {
    switch (entry->kind) {
      case Kind::kCounter:
        entry->counters->Expose(&out);
        break;
      case Kind::kGauge:
        entry->gauges->Expose(&out);
        break;
      case Kind::kHistogram:
        entry->histograms->Expose(&out);
        break;
      case Kind::kGaugeFunc:
        AppendHeader(name, entry->help, "gauge", &out);
        AppendSample(name, "", FormatValue(entry->fn()), &out);
        break;
    }
  }
  return out;
}

GaugeFuncHandle::GaugeFuncHandle(GaugeFuncHandle&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)), name_(std::move(other.name_)) {}

GaugeFuncHandle& GaugeFuncHandle::operator=(GaugeFuncHandle&& other) noexcept {
  if (this != &other) {
    Reset();
    registry_ = std::exchange(other.registry_, nullptr);
    name_ = std::move(other.name_);
  }
  return *this;
}

void GaugeFuncHandle::Reset() {
  if (registry_ == nullptr) return;
  std::exchange(registry_, nullptr)->RemoveGaugeFunc(name_);
}

}  // namespace dialkv::metrics
