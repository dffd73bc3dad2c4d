#include "jepsen-like/report/html.h"

#include <algorithm>
#include <initializer_list>
#include <set>

#include "jepsen-like/check/op_text.h"
#include "jepsen-like/report/charts.h"
#include "jepsen-like/report/summary.h"
#include "jepsen-like/report/svg.h"

namespace dialkv::jepsen::report {
namespace {

// Bounds on what one page shows; results.json holds everything.
constexpr size_t kMaxWitnessesShown = 50;
constexpr size_t kMaxNemesisRows = 1000;
constexpr size_t kMaxKeysListed = 20;
constexpr size_t kMaxKeyChars = 80;

constexpr std::string_view kStyle = R"css(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:#222;margin:0 auto;padding:16px 24px 48px;max-width:1160px;line-height:1.4}
h1{font-size:20px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;
 border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:20px 0 6px}
.banner{border-radius:6px;padding:14px 20px;color:#fff;display:flex;align-items:baseline;
 gap:24px;flex-wrap:wrap}
.banner .verdict{font-size:40px;font-weight:800;letter-spacing:1px}
.banner .what{font-size:16px;opacity:.95}
.pass{background:#1a7f37}.violation{background:#c62828}.unknown{background:#b26a00}
.v-pass{color:#1a7f37;font-weight:700}.v-violation{color:#c62828;font-weight:700}
.v-unknown{color:#b26a00;font-weight:700}.v-na{color:#888}
table{border-collapse:collapse;margin:6px 0;font-size:14px}
th,td{border:1px solid #ddd;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
table.info th{width:150px}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
pre{background:#f7f7f7;border:1px solid #e2e2e2;padding:10px;overflow-x:auto;
 white-space:pre-wrap;overflow-wrap:anywhere}
code.cmd{white-space:pre-wrap;overflow-wrap:anywhere}
.note{color:#6b4e16;background:#fff7e0;border:1px solid #f0dca0;padding:6px 10px;
 border-radius:4px;font-size:14px}
.error{color:#fff;background:#8b0000;padding:8px 12px;border-radius:4px}
svg{max-width:100%;height:auto;display:block;margin:8px 0}
nav a{margin-right:14px}footer{margin-top:40px;color:#888;font-size:12px}
)css";

std::string Cell(std::string_view html, bool numeric = false) {
  return std::string(numeric ? "<td class=\"n\">" : "<td>") + std::string(html) + "</td>";
}
std::string Num(size_t n) { return Cell(std::to_string(n), true); }
std::string Row(std::initializer_list<std::string> cells) {
  std::string row = "<tr>";
  for (const std::string& c : cells) row += c;
  return row + "</tr>";
}
std::string Head(std::initializer_list<std::string_view> names) {
  std::string row = "<tr>";
  for (std::string_view n : names) row += "<th>" + Escape(n) + "</th>";
  return row + "</tr>";
}

std::string VerdictHtml(Verdict v) {
  const std::string name(VerdictName(v));
  return "<span class=\"v-" + name + "\">" + name + "</span>";
}
std::string NotChecked(std::string_view why) {
  return "<span class=\"v-na\">" + Escape(why) + "</span>";
}
std::string Ratio(std::optional<double> r) { return r ? Percent(*r) : "n/a"; }
std::string Seconds(double s) { return Fixed(s, 3); }

std::string InfoTable(const RunReport& run, const RunSummary& summary) {
  const RunInfo& info = run.info;
  std::string nemeses;
  for (const std::string& n : info.nemeses) nemeses += (nemeses.empty() ? "" : ", ") + Escape(n);
  std::string t = "<table class=\"info\">";
  t += "<tr><th>command line</th><td><code class=\"cmd\">" + Escape(info.command_line) +
       "</code></td></tr>";
  t += "<tr><th>seed</th><td>" + std::to_string(info.seed) + "</td></tr>";
  t += "<tr><th>nodes</th><td>" + std::to_string(info.nodes) + "</td></tr>";
  t += "<tr><th>workload</th><td>" + Escape(info.workload) + "</td></tr>";
  t += "<tr><th>nemeses</th><td>" + (nemeses.empty() ? NotChecked("none") : nemeses) + "</td></tr>";
  t += "<tr><th>duration</th><td>" + Fixed(info.duration_s, 1) + " s configured, " +
       Seconds(summary.duration_s) + " s of history</td></tr>";
  t += "<tr><th>started at</th><td>" + Escape(info.started_at) + "</td></tr>";
  if (!info.server_version.empty()) {
    t += "<tr><th>server version</th><td>" + Escape(info.server_version) + "</td></tr>";
  }
  t += "<tr><th>operations</th><td>" + std::to_string(summary.operations) + "</td></tr>";
  return t + "</table>";
}

std::string LatencyCells(const LatencyStats& s) {
  if (s.count == 0) return Num(0) + Cell("", true) + Cell("", true) + Cell("", true);
  return Num(s.count) + Cell(Ms(s.p50_ms), true) + Cell(Ms(s.p99_ms), true) +
         Cell(Ms(s.max_ms), true);
}

std::string SummaryTables(const RunSummary& summary) {
  std::string t =
      "<table>" + Head({"mode", "ok", "fail", "info", "availability", "during faults",
                        "outside faults", "partitions: majority side", "partitions: minority side",
                        "throughput (ok ops/s)", "stale reads"});
  for (const auto& [name, m] : {std::pair{"cp", &summary.cp}, std::pair{"ap", &summary.ap}}) {
    const bool ap = std::string_view(name) == "ap";
    t += Row({Cell(name), Num(m->counts.ok), Num(m->counts.fail), Num(m->counts.info),
              Cell(Ratio(m->availability), true), Cell(Ratio(m->availability_during_faults), true),
              Cell(Ratio(m->availability_outside_faults), true),
              Cell(Ratio(m->availability_majority_side), true),
              Cell(Ratio(m->availability_minority_side), true),
              Cell(m->throughput_ops_s ? Fixed(*m->throughput_ops_s, 1) : "n/a", true),
              Cell(ap ? Ratio(summary.stale_read_rate) : "", true)});
  }
  t += "</table>";
  t += "<h3>Latency of ok operations (ms)</h3><table>" +
       Head({"mode", "operation", "count", "p50", "p99", "max"});
  for (const auto& [name, m] : {std::pair{"cp", &summary.cp}, std::pair{"ap", &summary.ap}}) {
    for (const auto& [op, s] : {std::pair{"read", &m->read}, std::pair{"write", &m->write},
                                std::pair{"delete", &m->del}, std::pair{"all", &m->all}}) {
      t += "<tr>" + Cell(name) + Cell(op) + LatencyCells(*s) + "</tr>";
    }
  }
  return t + "</table>";
}

std::string NemesisTable(const RunReport& run, int64_t origin_ns) {
  if (run.nemesis.empty()) return "<p>No nemesis events.</p>";
  std::string t = "<table>" + Head({"#", "nemesis", "what it did", "minority side", "start (s)",
                                    "end (s)", "duration (s)"});
  const auto rel = [&](int64_t ns) { return static_cast<double>(ns - origin_ns) / 1e9; };
  for (size_t i = 0; i < run.nemesis.size() && i < kMaxNemesisRows; ++i) {
    const NemesisEvent& e = run.nemesis[i];
    const std::string side =
        !e.minority ? "" : (e.minority->empty() ? "none" : FormatNodeSet(*e.minority));
    t += Row({Num(i + 1), Cell(Escape(e.name)), Cell(Escape(e.description)), Cell(side),
              Cell(Seconds(rel(e.start_ns)), true), Cell(Seconds(rel(e.end_ns)), true),
              Cell(e.end_ns == e.start_ns ? "instant" : Seconds(rel(e.end_ns) - rel(e.start_ns)),
                   true)});
  }
  t += "</table>";
  if (run.nemesis.size() > kMaxNemesisRows) {
    t += "<p class=\"note\">" + std::to_string(run.nemesis.size() - kMaxNemesisRows) +
         " more events are listed in results.json.</p>";
  }
  return t;
}

// Numbered after the nemesis events, as their bands in the charts.
std::string DiskAlarmTable(const RunReport& run, int64_t origin_ns) {
  if (run.disk_alarms.empty()) return "<p>No node raised its disk alarm.</p>";
  std::string t = "<table>" + Head({"#", "alarm", "node: its reason", "start (s)", "end (s)",
                                    "duration (s)", "cleared"});
  const auto rel = [&](int64_t ns) { return static_cast<double>(ns - origin_ns) / 1e9; };
  const size_t first = std::min(run.nemesis.size(), kMaxNemesisRows) + 1;
  for (size_t i = 0; i < run.disk_alarms.size() && i < kMaxNemesisRows; ++i) {
    const DiskAlarmInterval& a = run.disk_alarms[i];
    t += Row({Num(first + i), Cell(std::string(kDiskAlarmName)), Cell(Escape(DescribeDiskAlarm(a))),
              Cell(Seconds(rel(a.start_ns)), true), Cell(Seconds(rel(a.end_ns)), true),
              Cell(Seconds(rel(a.end_ns) - rel(a.start_ns)), true),
              Cell(a.cleared ? "yes" : "still up at the end")});
  }
  t += "</table>";
  if (run.disk_alarms.size() > kMaxNemesisRows) {
    t += "<p class=\"note\">" + std::to_string(run.disk_alarms.size() - kMaxNemesisRows) +
         " more alarm intervals are listed in results.json.</p>";
  }
  return t;
}

std::string KeyList(const std::vector<std::string>& keys) {
  std::string out;
  for (size_t i = 0; i < keys.size() && i < kMaxKeysListed; ++i) {
    out += (i == 0 ? "" : ", ") + std::string("<code>") + Escape(keys[i], kMaxKeyChars) + "</code>";
  }
  if (keys.size() > kMaxKeysListed) {
    out += " and " + std::to_string(keys.size() - kMaxKeysListed) + " more";
  }
  return out;
}

std::string ChecksTable(const CheckReport& checks) {
  std::string t = "<table>" + Head({"check", "verdict", "figures"});
  const LinearizabilityResult& lin = checks.linearizability;
  const size_t unknown = lin.unknown_keys.size();
  const size_t violating = lin.violations.size();
  std::string lin_figures =
      std::to_string(lin.keys_checked) + " keys checked: " +
      std::to_string(lin.keys_checked - std::min(lin.keys_checked, unknown + violating)) +
      " linearizable, " + std::to_string(violating) + " violating, " + std::to_string(unknown) +
      " unknown; " + std::to_string(lin.skipped_keys.size()) +
      " skipped (ap writes, not promised); " + std::to_string(lin.ops_checked) + " operations, " +
      std::to_string(lin.states_explored) + " configurations explored in " + Ms(lin.elapsed_ms) +
      " ms";
  if (unknown > 0) lin_figures += "<br>unknown: " + KeyList(lin.unknown_keys);
  t += Row({Cell("linearizability (cp)"), Cell(VerdictHtml(lin.verdict)), Cell(lin_figures)});

  if (checks.convergence) {
    const ConvergenceResult& c = *checks.convergence;
    t += Row({Cell("convergence (all replicas)"), Cell(VerdictHtml(c.verdict)),
              Cell(std::to_string(c.keys_compared) + " keys compared, " +
                   std::to_string(c.divergent_keys) + " divergent")});
  } else {
    t += Row({Cell("convergence (all replicas)"), Cell(NotChecked("not checked")),
              Cell("no final state")});
  }
  if (checks.lost_writes) {
    const LostWriteResult& l = *checks.lost_writes;
    t += Row({Cell("lost writes"), Cell(VerdictHtml(l.verdict)),
              Cell(std::to_string(l.lost) + " lost (" + std::to_string(l.lost_cp) + " cp) of " +
                   std::to_string(l.acknowledged) + " acknowledged; " + std::to_string(l.present) +
                   " present, " + std::to_string(l.beaten) + " beaten by a newer version, " +
                   std::to_string(l.unverifiable) + " unverifiable")});
  } else {
    t += Row({Cell("lost writes"), Cell(NotChecked("not checked")), Cell("no final state")});
  }
  const UnwrittenValueResult& u = checks.unwritten_values;
  t += Row({Cell("unwritten values"), Cell(VerdictHtml(u.verdict)),
            Cell(std::to_string(u.unwritten_reads) + " of " + std::to_string(u.reads_checked) +
                 " reads, " + std::to_string(u.unwritten_final_values) + " of " +
                 std::to_string(u.final_values_checked) + " final values")});
  const StaleReadResult& s = checks.stale_reads;
  t += Row({Cell("stale reads (ap)"), Cell(NotChecked("measured")),
            Cell(std::to_string(s.stale) + " of " + std::to_string(s.verifiable) +
                 " verifiable reads stale (" +
                 (s.verifiable > 0 ? Percent(s.stale_rate) : std::string("n/a")) + "); " +
                 std::to_string(s.reads - s.verifiable) + " of " + std::to_string(s.reads) +
                 " unverifiable; staleness p50 " + Ms(s.staleness.p50_ms) + " ms, p99 " +
                 Ms(s.staleness.p99_ms) + " ms, max " + Ms(s.staleness.max_ms) + " ms")});
  return t + "</table>";
}

std::string VersionText(const std::optional<Version>& v) {
  if (!v) return "none";
  return (v->tombstone ? std::string("tombstone") : internal::QuoteValue(v->value)) + "@" +
         ToString(v->timestamp);
}

// The witnesses of every violation: linearizability with a timeline, the others as text.
std::string Violations(const CheckReport& checks, int64_t origin_ns) {
  std::string out;
  const std::vector<LinearizabilityWitness>& lin = checks.linearizability.violations;
  for (size_t i = 0; i < lin.size() && i < kMaxWitnessesShown; ++i) {
    const LinearizabilityWitness& w = lin[i];
    out += "<h3>Linearizability: key <code>" + Escape(w.key, kMaxKeyChars) + "</code></h3>";
    out += "<pre>" + Escape(FormatWitness(w, origin_ns)) + "</pre>";
    out += WitnessTimeline(w, origin_ns);
  }
  if (lin.size() > kMaxWitnessesShown) {
    out += "<p class=\"note\">" + std::to_string(lin.size() - kMaxWitnessesShown) +
           " more linearizability witnesses are in results.json.</p>";
  }
  if (checks.convergence && checks.convergence->verdict == Verdict::kViolation) {
    const ConvergenceResult& c = *checks.convergence;
    std::string text;
    for (const auto& d : c.examples) {
      text += "key " + internal::QuoteValue(d.key) + ":\n";
      for (const auto& [node, v] : d.versions) {
        text += "  node " + std::to_string(node) + ": " + VersionText(v) + "\n";
      }
    }
    out += "<h3>Convergence: " + std::to_string(c.divergent_keys) + " divergent keys (first " +
           std::to_string(c.examples.size()) + " shown)</h3><pre>" + Escape(text) + "</pre>";
  }
  const UnwrittenValueResult& u = checks.unwritten_values;
  if (u.verdict == Verdict::kViolation) {
    std::string text;
    for (const auto& e : u.examples) {
      text += "key " + internal::QuoteValue(e.key) + " value " + internal::QuoteValue(e.value) +
              (e.written_by_failed_write ? " (only a failed write carried it)" : "") +
              (e.node ? " held by node " + std::to_string(*e.node) : "") + "\n";
      if (e.read) text += "  " + internal::FormatOpLine(*e.read, origin_ns) + "\n";
    }
    out += "<h3>Unwritten values</h3><pre>" + Escape(text) + "</pre>";
  }
  if (checks.lost_writes && checks.lost_writes->verdict == Verdict::kViolation) {
    std::string text;
    for (const auto& e : checks.lost_writes->examples) {
      text += internal::FormatOpLine(e.write, origin_ns) + "\n  ts " +
              (e.write.ts ? ToString(*e.write.ts) : std::string("none")) +
              ", newest final version " + VersionText(e.newest_final) + "\n";
    }
    out += "<h3>Lost writes: key, write, and the newest version any replica holds</h3><pre>" +
           Escape(text) + "</pre>";
  }
  if (out.empty()) out = "<p>No violations.</p>";
  return out;
}

// Keys whose every operation the sampled scatter keeps: those any witness names.
std::set<std::string, std::less<>> WitnessKeys(const CheckReport& checks) {
  std::set<std::string, std::less<>> keys;
  for (const auto& w : checks.linearizability.violations) keys.insert(w.key);
  if (checks.convergence) {
    for (const auto& d : checks.convergence->examples) keys.insert(d.key);
  }
  for (const auto& e : checks.unwritten_values.examples) keys.insert(e.key);
  if (checks.lost_writes) {
    for (const auto& e : checks.lost_writes->examples) keys.insert(e.write.key);
  }
  return keys;
}

TimeAxis MakeTimeAxis(const RunReport& run, const PairedHistory& paired) {
  TimeAxis axis;
  axis.origin_ns = paired.origin_ns;
  const auto rel = [&](int64_t ns) { return static_cast<double>(ns - paired.origin_ns) / 1e9; };
  axis.lo_s = 0;
  axis.hi_s = rel(paired.end_ns);
  for (size_t i = 0; i < run.nemesis.size(); ++i) {
    const NemesisEvent& e = run.nemesis[i];
    const double start = rel(e.start_ns);
    const double end = rel(std::max(e.end_ns, e.start_ns));
    axis.bands.push_back({static_cast<int>(i + 1), e.name, start, end});
    axis.lo_s = std::min(axis.lo_s, start);
    axis.hi_s = std::max(axis.hi_s, end);
  }
  // Disk alarms are numbered after the nemesis events, as in the tables (the nemesis table
  // shows at most kMaxNemesisRows rows).
  const size_t first_alarm = std::min(run.nemesis.size(), kMaxNemesisRows) + 1;
  for (size_t i = 0; i < run.disk_alarms.size(); ++i) {
    const DiskAlarmInterval& a = run.disk_alarms[i];
    const double start = rel(a.start_ns);
    const double end = rel(std::max(a.end_ns, a.start_ns));
    axis.bands.push_back(
        {static_cast<int>(first_alarm + i), std::string(kDiskAlarmName), start, end});
    axis.lo_s = std::min(axis.lo_s, start);
    axis.hi_s = std::max(axis.hi_s, end);
  }
  if (axis.hi_s - axis.lo_s < 1e-3) axis.hi_s = axis.lo_s + 1;
  return axis;
}

std::string Title(const RunReport& run) {
  std::string t = "dialkv-jepsen: " + std::string(VerdictName(run.checks.verdict));
  if (!run.info.workload.empty()) t += ", " + run.info.workload;
  if (!run.info.started_at.empty()) t += ", " + run.info.started_at;
  return t;
}

std::string Banner(const RunReport& run, const RunSummary& summary) {
  const Verdict v = run.checks.verdict;
  std::string what;
  switch (v) {
    case Verdict::kPass:
      what = "every check passed";
      break;
    case Verdict::kViolation:
      what = "a promise was broken: see the witnesses below";
      break;
    case Verdict::kUnknown:
      what = "no violation found, but a check ran out of budget";
      break;
  }
  std::string upper(VerdictName(v));
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](char c) { return static_cast<char>(c - 'a' + 'A'); });
  return "<div class=\"banner " + std::string(VerdictName(v)) + "\"><div class=\"verdict\">" +
         upper + "</div><div class=\"what\">" + Escape(what) + "<br>" +
         std::to_string(summary.operations) + " operations, " + std::to_string(run.info.nodes) +
         " nodes, " + Seconds(summary.duration_s) + " s</div></div>";
}

}  // namespace

std::string RenderPage(const RunReport& run) {
  const PairedHistory paired = Pair(run.history);
  const RunSummary summary = Summarize(run, paired);
  const TimeAxis axis = MakeTimeAxis(run, paired);
  const int64_t origin_ns = paired.origin_ns;

  std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>" +
      Escape(Title(run)) + "</title><style>" + std::string(kStyle) + "</style></head><body>\n";
  page += "<h1>dialkv-jepsen run report</h1>" + Banner(run, summary) + InfoTable(run, summary);
  if (!paired.error.empty()) {
    page += "<p class=\"error\">The history is malformed, so no operation is charted: " +
            Escape(paired.error) + "</p>";
  }
  page +=
      "<nav><a href=\"#summary\">summary</a><a href=\"#charts\">charts</a>"
      "<a href=\"#nemesis\">nemesis</a><a href=\"#checks\">checks</a>"
      "<a href=\"#violations\">violations</a></nav>\n";

  page += "<h2 id=\"summary\">Summary</h2>" + SummaryTables(summary);
  if (!run.disk_alarms.empty()) {
    page += "<h3>Disk alarms</h3><pre>" + Escape(FormatDiskAlarms(run.disk_alarms, origin_ns)) +
            "</pre>";
  }

  page += "\n<h2 id=\"charts\">Charts</h2>";
  const Scatter scatter = LatencyScatter(paired.ops, axis, WitnessKeys(run.checks));
  page += scatter.svg;
  if (scatter.sampled) {
    page += "<p class=\"note\">Sampled: " + std::to_string(scatter.shown) + " of " +
            std::to_string(scatter.completed) +
            " completed operations are drawn: every fail and info operation, every operation "
            "of a key named by a witness, and an even sample of the rest. The tables count "
            "them all.</p>";
  }
  const size_t never_completed = paired.ops.size() - scatter.completed;
  if (never_completed > 0) {
    page += "<p class=\"note\">" + std::to_string(never_completed) +
            " operations never completed: they have no latency and count as info.</p>";
  }
  page += "\n" + ThroughputChart(paired.ops, axis);
  if (std::any_of(run.nemesis.begin(), run.nemesis.end(),
                  [](const NemesisEvent& e) { return e.minority.has_value(); })) {
    page +=
        "<p class=\"note\">Each operation goes to a node picked at random, so during a "
        "partition a CP worker also waits on the minority side's nodes (until its deadline), "
        "and the throughput of every worker falls. The availability chart and the summary "
        "table count the two sides apart: the majority side's operations are the ones a CP "
        "cluster must keep serving.</p>";
  }
  page += "\n" + AvailabilityChart(run.checks.availability);

  page += "\n<h2 id=\"nemesis\">Nemesis events</h2>" + NemesisTable(run, origin_ns);
  page += "\n<h3 id=\"disk-alarms\">Disk alarms (nodes refusing writes, as polled)</h3>" +
          DiskAlarmTable(run, origin_ns);
  page += "\n<h2 id=\"checks\">Checks</h2>" + ChecksTable(run.checks);
  page += "\n<h2 id=\"violations\">Violations</h2>" + Violations(run.checks, origin_ns);
  page +=
      "\n<footer>Times are relative to the first event of the history. Written by "
      "dialkv-jepsen; results.json holds the same figures and every witness.</footer>"
      "\n</body></html>\n";
  return page;
}

}  // namespace dialkv::jepsen::report
