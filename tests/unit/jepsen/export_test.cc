// Exports for Porcupine and Knossos (jepsen-like/check/export.h): hand-made histories, one
// linearizable and one not, checked against each format's definition. The Knossos side reads
// the EDN back with a small parser of the subset Jepsen histories use.
#include "jepsen-like/check/export.h"

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "jepsen-like/check/check.h"
#include "tests/testutil/status_matchers.h"
#include "tests/unit/jepsen/history_builder.h"

namespace dialkv::jepsen {
namespace {

using testing::D;
using testing::MakeHistory;
using testing::R;
using testing::W;

// Linearizable: a, then b that may have happened, read back; plus AP and failed operations
// that must not be exported as they are.
std::vector<Op> GoodHistory() {
  return MakeHistory({
      W(1, "k", "a", 0, 10),
      R(2, "k", "a", 20, 30),
      W(3, "k", "b\"q\"", 40, 50).Info(),
      R(4, "k", "b\"q\"", 60, 70),
      W(5, "k", "never", 80, 90).Fail(),
      D(6, "k", 100, 110),
      R(7, "k", std::nullopt, 120, 130),
      W(8, "ap-k", "x", 0, 10).Ap(),
      W(9, "k", "late", 140, 0).Pending(),
      R(10, "k", std::nullopt, 150, 160).Info(),
  });
}

// Not linearizable: b was written after a completed, then a read returns a.
std::vector<Op> BadHistory() {
  return MakeHistory({
      W(1, "k", "a", 0, 10),
      W(2, "k", "b", 20, 30),
      R(3, "k", "a", 40, 50),
  });
}

Verdict OwnVerdict(const std::vector<Op>& history) {
  Result<CheckReport> report = CheckRun(history, nullptr, {});
  EXPECT_TRUE(report.ok());
  return report.ok() ? report->linearizability.verdict : Verdict::kUnknown;
}

nlohmann::json Porcupine(const std::vector<Op>& history) {
  Result<std::string> text = ExportHistory(history, ExportFormat::kPorcupine);
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  return nlohmann::json::parse(text.ok() ? *text : "null", nullptr, false);
}

// Every element is a Porcupine Operation {ClientId int, Input, Call int64, Output, Return
// int64} with Call < Return, and the schema export.h documents for Input and Output.
void ExpectPorcupineOperations(const nlohmann::json& ops) {
  ASSERT_TRUE(ops.is_array());
  for (const nlohmann::json& op : ops) {
    ASSERT_TRUE(op.is_object()) << op;
    EXPECT_EQ(op.size(), 5u) << op;
    ASSERT_TRUE(op["ClientId"].is_number_integer()) << op;
    ASSERT_TRUE(op["Call"].is_number_integer()) << op;
    ASSERT_TRUE(op["Return"].is_number_integer()) << op;
    EXPECT_LT(op["Call"].get<int64_t>(), op["Return"].get<int64_t>()) << op;
    const nlohmann::json& in = op["Input"];
    ASSERT_TRUE(in.is_object()) << op;
    const std::string f = in["op"].get<std::string>();
    EXPECT_TRUE(f == "read" || f == "write" || f == "delete") << op;
    EXPECT_TRUE(in["key"].is_string()) << op;
    EXPECT_TRUE(f == "write" ? in["value"].is_string() : in["value"].is_null()) << op;
    const nlohmann::json& out = op["Output"];
    ASSERT_TRUE(out.is_object()) << op;
    EXPECT_TRUE(out["unknown"].is_boolean()) << op;
    EXPECT_TRUE(out["value"].is_null() || (f == "read" && out["value"].is_string())) << op;
  }
}

TEST(ExportTest, PorcupineGetsEveryCpOperationThatMayHaveTakenEffect) {
  const std::vector<Op> history = GoodHistory();
  ASSERT_EQ(OwnVerdict(history), Verdict::kPass);
  const nlohmann::json ops = Porcupine(history);
  ExpectPorcupineOperations(ops);
  // Processes 1, 2, 3 (unknown), 4, 6, 7, 9 (never completed: unknown). Not 5 (failed), 8
  // (AP) nor 10 (an info read constrains nothing).
  std::vector<int64_t> clients;
  for (const nlohmann::json& op : ops) clients.push_back(op["ClientId"].get<int64_t>());
  EXPECT_EQ(clients, (std::vector<int64_t>{1, 2, 3, 4, 6, 7, 9}));
  const int64_t ms = testing::kNsPerMs;
  EXPECT_EQ(ops[0]["Call"], 0);
  EXPECT_EQ(ops[0]["Return"], 10 * ms);
  EXPECT_EQ(ops[0]["Input"]["value"], "a");
  EXPECT_EQ(ops[1]["Output"]["value"], "a");
  EXPECT_EQ(ops[3]["Output"]["value"], "b\"q\"");
  EXPECT_TRUE(ops[5]["Output"]["value"].is_null());  // Not found after the delete.
  for (size_t unknown : {2, 6}) {
    EXPECT_TRUE(ops[unknown]["Output"]["unknown"].get<bool>());
    EXPECT_EQ(ops[unknown]["Return"], 160 * ms + 1);  // After the history's last event.
  }
  EXPECT_FALSE(ops[0]["Output"]["unknown"].get<bool>());
}

TEST(ExportTest, PorcupineKeepsTheViolationOfABadHistory) {
  const std::vector<Op> history = BadHistory();
  ASSERT_EQ(OwnVerdict(history), Verdict::kViolation);
  const nlohmann::json ops = Porcupine(history);
  ExpectPorcupineOperations(ops);
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_LT(ops[0]["Return"].get<int64_t>(), ops[1]["Call"].get<int64_t>());
  EXPECT_LT(ops[1]["Return"].get<int64_t>(), ops[2]["Call"].get<int64_t>());
  EXPECT_EQ(ops[2]["Output"]["value"], "a");
}

// The subset of EDN a Jepsen history uses: vectors, maps, keywords, strings, integers, nil.
struct Edn;
using EdnVector = std::vector<Edn>;
using EdnMap = std::map<std::string, Edn>;  // Keyword keys, without the colon.
struct Keyword {
  std::string name;
};
struct Nil {};
struct Edn {
  std::variant<Nil, int64_t, std::string, Keyword, std::shared_ptr<EdnVector>,
               std::shared_ptr<EdnMap>>
      v;
};

class EdnParser {
 public:
  explicit EdnParser(std::string text) : text_(std::move(text)) {}

  // The one value of the text; fails the test on a syntax error.
  Edn ParseAll() {
    Edn value = Parse();
    SkipSpace();
    EXPECT_EQ(pos_, text_.size()) << "trailing text at " << pos_;
    return value;
  }

 private:
  void SkipSpace() {
    while (pos_ < text_.size() &&
           (std::isspace(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == ',')) {
      ++pos_;
    }
  }
  void Fail(const std::string& what) {
    ADD_FAILURE() << what << " at " << pos_ << ": " << text_.substr(pos_, 40);
    pos_ = text_.size();
  }
  Edn Parse() {
    SkipSpace();
    if (pos_ >= text_.size()) {
      Fail("unexpected end");
      return Edn{};
    }
    const char c = text_[pos_];
    if (c == '[') {
      ++pos_;
      auto items = std::make_shared<EdnVector>();
      for (SkipSpace(); pos_ < text_.size() && text_[pos_] != ']'; SkipSpace()) {
        items->push_back(Parse());
      }
      if (pos_ >= text_.size()) {
        Fail("unclosed vector");
        return Edn{};
      }
      ++pos_;
      return Edn{items};
    }
    if (c == '{') {
      ++pos_;
      auto map = std::make_shared<EdnMap>();
      for (SkipSpace(); pos_ < text_.size() && text_[pos_] != '}'; SkipSpace()) {
        Edn key = Parse();
        if (!std::holds_alternative<Keyword>(key.v)) {
          Fail("map key not a keyword");
          return Edn{};
        }
        const std::string name = std::get<Keyword>(key.v).name;
        if (map->count(name) != 0) {
          Fail("duplicate key :" + name);
          return Edn{};
        }
        SkipSpace();
        if (pos_ >= text_.size() || text_[pos_] == '}') {
          Fail("odd map");
          return Edn{};
        }
        (*map)[name] = Parse();
      }
      if (pos_ >= text_.size()) {
        Fail("unclosed map");
        return Edn{};
      }
      ++pos_;
      return Edn{map};
    }
    if (c == '"') return ParseString();
    if (c == ':') {
      ++pos_;
      const size_t start = pos_;
      while (pos_ < text_.size() &&
             (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '-')) {
        ++pos_;
      }
      if (pos_ == start) {
        Fail("empty keyword");
        return Edn{};
      }
      return Edn{Keyword{text_.substr(start, pos_ - start)}};
    }
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      const size_t start = pos_;
      ++pos_;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      return Edn{static_cast<int64_t>(std::stoll(text_.substr(start, pos_ - start)))};
    }
    if (text_.compare(pos_, 3, "nil") == 0) {
      pos_ += 3;
      return Edn{Nil{}};
    }
    {
      Fail("unexpected character");
      return Edn{};
    }
  }
  Edn ParseString() {
    ++pos_;
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      char c = text_[pos_++];
      if (static_cast<unsigned char>(c) < 0x20) {
        Fail("raw control character");
        return Edn{};
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) break;
      c = text_[pos_++];
      if (c == 'n')
        out += '\n';
      else if (c == 't')
        out += '\t';
      else if (c == 'r')
        out += '\r';
      else if (c == '"' || c == '\\')
        out += c;
      else if (c == 'u' && pos_ + 4 <= text_.size()) {
        out += static_cast<char>(std::stoi(text_.substr(pos_, 4), nullptr, 16));
        pos_ += 4;
      } else {
        {
          Fail("bad escape");
          return Edn{};
        }
      }
    }
    if (pos_ >= text_.size()) {
      Fail("unclosed string");
      return Edn{};
    }
    ++pos_;
    return Edn{out};
  }

  std::string text_;
  size_t pos_ = 0;
};

// A Knossos op as read back.
struct KnossosOp {
  int64_t process = 0;
  std::string type;
  std::string f;
  std::string key;
  std::optional<std::string> value;
  int64_t time = 0;
};

// Reads the export and checks every op against Knossos's history format: a vector of maps with
// :process int, :type one of invoke/ok/fail/info, :f read/write, :value [key value] and :time,
// in time order, each invocation completed once by the same process before it invokes again.
std::vector<KnossosOp> ReadKnossos(const std::vector<Op>& history) {
  Result<std::string> text = ExportHistory(history, ExportFormat::kKnossos);
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  if (!text.ok()) return {};
  const Edn root = EdnParser(*text).ParseAll();
  EXPECT_TRUE(std::holds_alternative<std::shared_ptr<EdnVector>>(root.v));
  if (!std::holds_alternative<std::shared_ptr<EdnVector>>(root.v)) return {};
  std::vector<KnossosOp> ops;
  std::map<int64_t, std::string> outstanding;  // Process -> f.
  int64_t last_time = 0;
  for (const Edn& item : *std::get<std::shared_ptr<EdnVector>>(root.v)) {
    const auto* map = std::get_if<std::shared_ptr<EdnMap>>(&item.v);
    EXPECT_NE(map, nullptr);
    if (map == nullptr) continue;
    const EdnMap& m = **map;
    EXPECT_EQ(m.size(), 5u);
    KnossosOp op;
    const auto keyword = [&m](const char* k) {
      const auto it = m.find(k);
      const auto* kw = it == m.end() ? nullptr : std::get_if<Keyword>(&it->second.v);
      return kw == nullptr ? std::string() : kw->name;
    };
    const auto integer = [&m](const char* k) -> std::optional<int64_t> {
      const auto it = m.find(k);
      const auto* i = it == m.end() ? nullptr : std::get_if<int64_t>(&it->second.v);
      return i == nullptr ? std::nullopt : std::optional<int64_t>(*i);
    };
    EXPECT_TRUE(integer("process").has_value());
    EXPECT_TRUE(integer("time").has_value());
    op.process = integer("process").value_or(-1);
    op.time = integer("time").value_or(-1);
    op.type = keyword("type");
    op.f = keyword("f");
    EXPECT_TRUE(std::set<std::string>({"invoke", "ok", "fail", "info"}).count(op.type)) << op.type;
    EXPECT_TRUE(op.f == "read" || op.f == "write") << op.f;
    const auto value = m.find("value");
    const auto* tuple =
        value == m.end() ? nullptr : std::get_if<std::shared_ptr<EdnVector>>(&value->second.v);
    EXPECT_TRUE(tuple != nullptr && (*tuple)->size() == 2) << "value must be [key value]";
    if (tuple == nullptr || (*tuple)->size() != 2) continue;
    const auto* key = std::get_if<std::string>(&(**tuple)[0].v);
    EXPECT_NE(key, nullptr);
    op.key = key == nullptr ? "" : *key;
    if (const auto* v = std::get_if<std::string>(&(**tuple)[1].v)) {
      op.value = *v;
    } else {
      EXPECT_TRUE(std::holds_alternative<Nil>((**tuple)[1].v));
    }
    EXPECT_GE(op.time, last_time);
    last_time = op.time;
    if (op.type == "invoke") {
      EXPECT_EQ(outstanding.count(op.process), 0u) << "process " << op.process;
      outstanding[op.process] = op.f;
    } else {
      EXPECT_EQ(outstanding.count(op.process), 1u) << "completion without invoke " << op.process;
      EXPECT_EQ(outstanding[op.process], op.f);
      outstanding.erase(op.process);
    }
    ops.push_back(op);
  }
  EXPECT_TRUE(outstanding.empty()) << "every invoke must be completed";
  return ops;
}

TEST(ExportTest, KnossosHistoryIsWellFormedEdnWithEveryInvokePaired) {
  const std::vector<KnossosOp> ops = ReadKnossos(GoodHistory());
  // 9 CP operations, two events each (the pending write gets its :info at the end).
  ASSERT_EQ(ops.size(), 18u);
  std::set<std::string> keys;
  for (const KnossosOp& op : ops) keys.insert(op.key);
  EXPECT_EQ(keys, std::set<std::string>{"k"});  // No AP key.
  EXPECT_EQ(ops[0].type, "invoke");
  EXPECT_EQ(ops[0].value, "a");
  // The read's invocation carries nil; its completion what it read.
  EXPECT_EQ(ops[2].f, "read");
  EXPECT_EQ(ops[2].value, std::nullopt);
  EXPECT_EQ(ops[3].value, "a");
  EXPECT_EQ(ops[5].value, "b\"q\"");  // Escapes survive.
  EXPECT_EQ(ops[5].type, "info");
  // The delete is a write of nil.
  bool delete_seen = false;
  for (const KnossosOp& op : ops) {
    if (op.process == 6) {
      EXPECT_EQ(op.f, "write");
      EXPECT_EQ(op.value, std::nullopt);
      delete_seen = true;
    }
  }
  EXPECT_TRUE(delete_seen);
  EXPECT_EQ(ops.back().process, 9);
  EXPECT_EQ(ops.back().type, "info");
  EXPECT_EQ(ops.back().value, "late");
}

TEST(ExportTest, KnossosKeepsTheViolationOfABadHistory) {
  const std::vector<KnossosOp> ops = ReadKnossos(BadHistory());
  ASSERT_EQ(ops.size(), 6u);
  EXPECT_EQ(ops[3].type, "ok");
  EXPECT_EQ(ops[3].value, "b");
  EXPECT_EQ(ops[5].f, "read");
  EXPECT_EQ(ops[5].value, "a");
}

TEST(ExportTest, EdnStringsEscapeQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(EdnString("a\"b\\c\nd\te\x01"), "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
  const Edn back = EdnParser(EdnString("x\"\\\n\x02y")).ParseAll();
  ASSERT_TRUE(std::holds_alternative<std::string>(back.v));
  EXPECT_EQ(std::get<std::string>(back.v), "x\"\\\n\x02y");
}

TEST(ExportTest, UnknownFormatIsRefused) {
  EXPECT_EQ(ParseExportFormat("jepsen").code(), Code::kInvalidArgument);
  ASSERT_OK(ParseExportFormat("knossos"));
}

}  // namespace
}  // namespace dialkv::jepsen
