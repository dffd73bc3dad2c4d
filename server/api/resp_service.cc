#include "server/api/resp_service.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "server/api/node.h"
#include "server/common/version.h"
#include "server/net/frame.h"

namespace dialkv::api {
namespace {

using net::resp::Writer;

// The Redis release whose command set clients may assume (HELLO, INFO): the commands above
// behave as in Redis 7.0 for what they support.
constexpr std::string_view kRedisCompatVersion = "7.0.0";

enum Command : uint8_t {
  kPing,
  kEcho,
  kHello,
  kAuth,
  kSelect,
  kGet,
  kSet,
  kDel,
  kExists,
  kMget,
  kMset,
  kInfo,
  kDbsize,
  kCommand,
  kClient,
  kQuit,
  kMode,
  kConfig,
  kOther
};
static_assert(static_cast<size_t>(kOther) + 1 == RespService::kCommandNames.size());

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t CommandIndex(std::string_view lower_name) {
  for (size_t i = 0; i + 1 < RespService::kCommandNames.size(); ++i) {
    if (lower_name == RespService::kCommandNames[i]) return i;
  }
  return kOther;
}

v1::Consistency ToProto(Consistency mode) {
  return mode == Consistency::kAp ? v1::CONSISTENCY_AP : v1::CONSISTENCY_CP;
}

// The status a reply of the client port's handler carries.
Status StatusOf(const v1::Envelope& reply) {
  std::optional<Status> status = net::ReplyStatus(reply);
  // Not value_or: the error's message would be built for every reply.
  return status ? *std::move(status) : Status::Internal("the request got no reply");
}

// "-CODE message" for a status that is not OK, keeping what it means for a retry.
std::string ErrorOf(const Status& status) {
  std::string prefix;
  switch (status.code()) {
    case Code::kUnavailable:
      prefix = "UNAVAILABLE";
      break;
    case Code::kUnknown:
      prefix = "UNKNOWN";
      break;
    case Code::kTimeout:
      prefix = "TIMEOUT";
      break;
    case Code::kUnauthenticated:
      prefix = "NOAUTH";
      break;
    case Code::kPermissionDenied:
      prefix = "NOPERM";
      break;
    case Code::kOverloaded:
      prefix = "OVERLOADED";
      break;
    case Code::kInvalidArgument:
      prefix = "ERR";
      break;
    default:
      return "ERR " + std::string(CodeName(status.code())) + ": " + status.message();
  }
  return prefix + " " + status.message();
}

std::string WrongArity(std::string_view name) {
  return "ERR wrong number of arguments for '" + Lower(name) + "' command";
}

}  // namespace

class RespService::Session final : public net::RespSession {
 public:
  Session(RespService& service, net::RequestHandler handler, uint64_t id)
      : service_(service),
        handler_(std::move(handler)),
        id_(id),
        mode_(service.options_.default_mode) {}

  asio::awaitable<void> Execute(std::vector<std::string> args, std::string* out) override {
    const size_t start = out->size();
    Consistency mode = mode_;
    size_t first = 0;
    if (args.size() > 1) {
      const std::string prefix = Lower(args[0]);
      if (prefix == "cp" || prefix == "ap") {
        mode = prefix == "ap" ? Consistency::kAp : Consistency::kCp;
        first = 1;
      }
    }
    args.erase(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(first));
    const size_t command = CommandIndex(Lower(args[0]));
    co_await Run(static_cast<Command>(command), std::move(args), mode, out);
    service_.Count(command, std::string_view(*out).substr(start));
  }

  bool closing() const override { return closing_; }
  int protocol() const override { return protocol_; }

 private:
  asio::awaitable<void> Run(Command command, std::vector<std::string> args, Consistency mode,
                            std::string* out) {
    Writer w(out, protocol_);
    const size_t argc = args.size();
    if (service_.auth_.required() && !authenticated_ && command != kAuth && command != kHello &&
        command != kQuit) {
      w.Error("NOAUTH Authentication required.");
      co_return;
    }
    switch (command) {
      case kPing:
        if (argc > 2) {
          w.Error(WrongArity(args[0]));
        } else if (argc == 2) {
          w.Bulk(args[1]);
        } else {
          w.SimpleString("PONG");
        }
        co_return;
      case kEcho:
        if (argc != 2) {
          w.Error(WrongArity(args[0]));
        } else {
          w.Bulk(args[1]);
        }
        co_return;
      case kHello:
        co_await Hello(std::move(args), out);
        co_return;
      case kAuth: {
        if (argc != 2 && argc != 3) {
          w.Error(WrongArity(args[0]));
          co_return;
        }
        const Status authed = co_await Authenticate(std::move(args[argc - 1]));
        if (authed.ok()) {
          w.SimpleString("OK");
        } else {
          w.Error("WRONGPASS " + authed.message());
        }
        co_return;
      }
      case kSelect:
        if (argc != 2) {
          w.Error(WrongArity(args[0]));
        } else if (args[1] != "0") {
          w.Error("ERR DB index is out of range (dialkv has database 0 only)");
        } else {
          w.SimpleString("OK");
        }
        co_return;
      case kGet: {
        if (argc != 2) {
          w.Error(WrongArity(args[0]));
          co_return;
        }
        std::optional<std::string> value;
        const Status read = co_await Get(std::move(args[1]), mode, &value);
        if (!read.ok()) {
          w.Error(ErrorOf(read));
        } else if (value.has_value()) {
          w.Bulk(*value);
        } else {
          w.Null();
        }
        co_return;
      }
      case kSet: {
        if (argc < 3) {
          w.Error(WrongArity(args[0]));
          co_return;
        }
        if (argc > 3) {
          w.Error("ERR SET option '" + args[3] +
                  "' is not supported by dialkv: only plain SET key value");
          co_return;
        }
        const Status written = co_await Write(std::move(args[1]), std::move(args[2]), false, mode);
        if (written.ok()) {
          w.SimpleString("OK");
        } else {
          w.Error(ErrorOf(written));
        }
        co_return;
      }
      case kDel:
        if (argc < 2) {
          w.Error(WrongArity(args[0]));
        } else {
          co_await Delete(std::move(args), mode, w);
        }
        co_return;
      case kExists:
      case kMget: {
        if (argc < 2) {
          w.Error(WrongArity(args[0]));
          co_return;
        }
        std::vector<std::optional<std::string>> values(argc - 1);
        for (size_t i = 1; i < argc; ++i) {
          const Status read = co_await Get(std::move(args[i]), mode, &values[i - 1]);
          if (!read.ok()) {
            w.Error(ErrorOf(read));
            co_return;
          }
        }
        if (command == kExists) {
          w.Integer(std::count_if(values.begin(), values.end(),
                                  [](const auto& v) { return v.has_value(); }));
          co_return;
        }
        w.ArrayHeader(values.size());
        for (const auto& v : values) {
          if (v.has_value()) {
            w.Bulk(*v);
          } else {
            w.Null();
          }
        }
        co_return;
      }
      case kMset:
        if (argc < 3 || argc % 2 == 0) {
          w.Error(WrongArity(args[0]));
        } else {
          co_await Mset(std::move(args), mode, w);
        }
        co_return;
      case kInfo:
        w.Bulk(Info());
        co_return;
      case kDbsize:
        w.Integer(static_cast<int64_t>(EstimateKeys()));
        co_return;
      case kCommand:
        CommandCommand(args, w);
        co_return;
      case kClient:
        Client(args, w);
        co_return;
      case kConfig:
        Config(args, w);
        co_return;
      case kQuit:
        w.SimpleString("OK");
        closing_ = true;
        co_return;
      case kMode:
        if (argc == 1) {
          w.Bulk(mode_ == Consistency::kAp ? "ap" : "cp");
        } else if (argc == 2 && (Lower(args[1]) == "cp" || Lower(args[1]) == "ap")) {
          mode_ = Lower(args[1]) == "ap" ? Consistency::kAp : Consistency::kCp;
          w.SimpleString("OK");
        } else {
          w.Error("ERR DIALKV.MODE takes cp or ap");
        }
        co_return;
      case kOther: {
        std::string message =
            "ERR unknown command '" + args[0].substr(0, 128) + "', with args beginning with:";
        for (size_t i = 1; i < argc && i < 4; ++i) message += " '" + args[i].substr(0, 64) + "'";
        w.Error(message);
        co_return;
      }
    }
  }

  uint64_t EstimateKeys() const {
    return service_.options_.estimate_keys ? service_.options_.estimate_keys() : 0;
  }

  asio::awaitable<Status> Authenticate(std::string token) {
    v1::Envelope request;
    request.mutable_auth_request()->set_token(std::move(token));
    const v1::Envelope reply = co_await handler_(std::move(request));
    const Status status = StatusOf(reply);
    authenticated_ = status.ok();
    co_return status;
  }

  // *value: the value, or nullopt when the key is not found (or deleted).
  asio::awaitable<Status> Get(std::string key, Consistency mode,
                              std::optional<std::string>* value) {
    v1::Envelope request;
    v1::GetRequest* get = request.mutable_get_request();
    get->set_key(std::move(key));
    get->set_consistency(ToProto(mode));
    v1::Envelope reply = co_await handler_(std::move(request));
    const Status status = StatusOf(reply);
    value->reset();
    if (status.IsNotFound()) co_return Status::Ok();
    if (status.ok()) *value = std::move(*reply.mutable_get_reply()->mutable_value());
    co_return status;
  }

  asio::awaitable<Status> Write(std::string key, std::string value, bool del, Consistency mode) {
    v1::Envelope request;
    if (del) {
      v1::DeleteRequest* d = request.mutable_delete_request();
      d->set_key(std::move(key));
      d->set_consistency(ToProto(mode));
    } else {
      v1::PutRequest* put = request.mutable_put_request();
      put->set_key(std::move(key));
      put->set_value(std::move(value));
      put->set_consistency(ToProto(mode));
    }
    const v1::Envelope reply = co_await handler_(std::move(request));
    co_return StatusOf(reply);
  }

  // The error of a multi-key write that failed at key `index` (0-based) of `count`: once an
  // earlier key was written, the command as a whole may have been partly applied.
  static std::string PartialFailure(std::string_view name, size_t index, size_t count,
                                    const Status& failed) {
    if (index == 0) return ErrorOf(failed);
    return "UNKNOWN " + std::string(name) + " wrote the first " + std::to_string(index) + " of " +
           std::to_string(count) + " keys, then failed: " + ErrorOf(failed);
  }

  // DEL counts the keys that held a value just before they were deleted (read in the same
  // mode): a concurrent writer of the same key can make the count differ from Redis's. Like
  // the native delete it needs kv:write only; with a token that may not read, every key
  // deleted counts.
  asio::awaitable<void> Delete(std::vector<std::string> args, Consistency mode, Writer& w) {
    int64_t existed = 0;
    const size_t count = args.size() - 1;
    for (size_t i = 1; i < args.size(); ++i) {
      std::optional<std::string> value;
      Status status = co_await Get(args[i], mode, &value);
      const bool read = status.ok();
      if (status.code() == Code::kPermissionDenied) status = Status::Ok();
      if (status.ok()) status = co_await Write(std::move(args[i]), std::string(), true, mode);
      if (!status.ok()) {
        w.Error(PartialFailure("DEL", i - 1, count, status));
        co_return;
      }
      if (!read || value.has_value()) ++existed;
    }
    w.Integer(existed);
  }

  asio::awaitable<void> Mset(std::vector<std::string> args, Consistency mode, Writer& w) {
    const size_t count = (args.size() - 1) / 2;
    for (size_t i = 0; i < count; ++i) {
      const Status status =
          co_await Write(std::move(args[1 + 2 * i]), std::move(args[2 + 2 * i]), false, mode);
      if (!status.ok()) {
        w.Error(PartialFailure("MSET", i, count, status));
        co_return;
      }
    }
    w.SimpleString("OK");
  }

  asio::awaitable<void> Hello(std::vector<std::string> args, std::string* out) {
    Writer w(out, protocol_);
    int version = protocol_;
    if (args.size() >= 2) {
      if (args[1] == "2" || args[1] == "3") {
        version = args[1][0] - '0';
      } else {
        w.Error("NOPROTO unsupported protocol version");
        co_return;
      }
    }
    std::optional<std::string> token;
    std::optional<std::string> name;
    for (size_t i = 2; i < args.size(); ++i) {
      const std::string option = Lower(args[i]);
      if (option == "auth" && i + 2 < args.size()) {
        token = std::move(args[i + 2]);
        i += 2;
      } else if (option == "setname" && i + 1 < args.size()) {
        name = std::move(args[i + 1]);
        i += 1;
      } else {
        w.Error("ERR Syntax error in HELLO option '" + args[i] + "'");
        co_return;
      }
    }
    if (token.has_value()) {
      const Status authed = co_await Authenticate(std::move(*token));
      if (!authed.ok()) {
        w.Error("WRONGPASS " + authed.message());
        co_return;
      }
    }
    if (service_.auth_.required() && !authenticated_) {
      w.Error(
          "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
          "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
          "select the RESP protocol version at the same time");
      co_return;
    }
    if (name.has_value()) name_ = std::move(*name);
    protocol_ = version;
    Writer reply(out, protocol_);
    reply.MapHeader(7);
    reply.Bulk("server");
    reply.Bulk("dialkv");
    reply.Bulk("version");
    reply.Bulk(kRedisCompatVersion);
    reply.Bulk("proto");
    reply.Integer(protocol_);
    reply.Bulk("id");
    reply.Integer(static_cast<int64_t>(id_));
    reply.Bulk("mode");
    reply.Bulk("standalone");
    reply.Bulk("role");
    reply.Bulk("master");
    reply.Bulk("modules");
    reply.ArrayHeader(0);
  }

  std::string Info() const {
    const RespService::Options& o = service_.options_;
    std::string info = "# Server\r\nredis_version:" + std::string(kRedisCompatVersion) +
                       "\r\ndialkv_version:" + std::string(Version()) +
                       "\r\nredis_mode:standalone\r\nprocess_id:" + std::to_string(::getpid()) +
                       "\r\ntcp_port:" + std::to_string(o.port) +
                       "\r\ndialkv_node_id:" + std::to_string(o.node_id) +
                       "\r\ndialkv_cluster:" + o.cluster_name +
                       "\r\ndialkv_mode:" + (mode_ == Consistency::kAp ? "ap" : "cp") +
                       "\r\n\r\n# Keyspace\r\ndb0:keys=" + std::to_string(EstimateKeys()) +
                       ",expires=0,avg_ttl=0\r\n";
    return info;
  }

  void CommandCommand(const std::vector<std::string>& args, Writer& w) const {
    if (args.size() == 1) {
      w.ArrayHeader(0);
      return;
    }
    const std::string sub = Lower(args[1]);
    if (sub == "count") {
      w.Integer(static_cast<int64_t>(RespService::kCommandNames.size() - 1));
    } else if (sub == "docs") {
      w.MapHeader(0);
    } else {
      w.Error("ERR unknown subcommand '" + args[1] +
              "' of COMMAND: dialkv answers COMMAND, "
              "COMMAND COUNT and COMMAND DOCS");
    }
  }

  // CONFIG GET, for tools that read a few settings at start (redis-benchmark reads save and
  // appendonly): dialkv logs every write before it answers (appendonly yes) and takes no
  // snapshots (save ""). Other parameters match nothing; CONFIG SET is refused.
  static void Config(const std::vector<std::string>& args, Writer& w) {
    if (args.size() < 2 || Lower(args[1]) != "get") {
      w.Error("ERR dialkv answers CONFIG GET only; its settings are dialkv-server flags");
      return;
    }
    if (args.size() < 3) {
      w.Error(WrongArity("config|get"));
      return;
    }
    static constexpr std::pair<std::string_view, std::string_view> kSettings[] = {
        {"save", ""}, {"appendonly", "yes"}, {"databases", "1"}};
    std::vector<std::pair<std::string_view, std::string_view>> found;
    for (const auto& [name, value] : kSettings) {
      for (size_t i = 2; i < args.size(); ++i) {
        if (args[i] == "*" || Lower(args[i]) == name) {
          found.emplace_back(name, value);
          break;
        }
      }
    }
    w.MapHeader(found.size());
    for (const auto& [name, value] : found) {
      w.Bulk(name);
      w.Bulk(value);
    }
  }

  void Client(const std::vector<std::string>& args, Writer& w) {
    const std::string sub = args.size() >= 2 ? Lower(args[1]) : std::string();
    if (sub == "setname" && args.size() == 3) {
      name_ = args[2];
      w.SimpleString("OK");
    } else if (sub == "getname" && args.size() == 2) {
      if (name_.empty()) {
        w.Null();
      } else {
        w.Bulk(name_);
      }
    } else if (sub == "setinfo" && args.size() == 4) {
      w.SimpleString("OK");
    } else if (sub == "id" && args.size() == 2) {
      w.Integer(static_cast<int64_t>(id_));
    } else if (sub == "setname" || sub == "getname" || sub == "setinfo" || sub == "id") {
      w.Error("ERR wrong number of arguments for 'client|" + sub + "' command");
    } else {
      w.Error("ERR unknown subcommand '" + (args.size() >= 2 ? args[1] : std::string()) +
              "' of CLIENT: dialkv answers CLIENT SETNAME, GETNAME, SETINFO and ID");
    }
  }

  RespService& service_;
  const net::RequestHandler handler_;
  const uint64_t id_;
  Consistency mode_;
  int protocol_ = 2;
  bool authenticated_ = false;
  bool closing_ = false;
  std::string name_;
};

RespService::RespService(Options options, ClientAuth& auth, metrics::Registry& metrics)
    : options_(std::move(options)), auth_(auth) {
  auto& family = metrics.AddCounter(
      "dialkv_resp_commands_total",
      "Commands answered on the Redis-protocol port, by command (\"other\": names dialkv does "
      "not serve) and outcome (ok, or the reply's error code in lower case).",
      {"command", "outcome"});
  for (size_t c = 0; c < kCommandNames.size(); ++c) {
    for (size_t o = 0; o < kOutcomeNames.size(); ++o) {
      commands_[c][o] = &family.WithLabels({kCommandNames[c], kOutcomeNames[o]});
    }
  }
}

net::RespSessionFactory RespService::Factory() {
  return [this](const asio::ip::tcp::endpoint& client) -> std::unique_ptr<net::RespSession> {
    return std::make_unique<Session>(*this, auth_.ForConnection(FormatHostPort(client)),
                                     next_client_id_.fetch_add(1));
  };
}

void RespService::Count(size_t command, std::string_view reply) {
  size_t outcome = 0;  // ok
  if (!reply.empty() && reply[0] == '-') {
    const size_t end = reply.find_first_of(" \r", 1);
    const std::string code = Lower(reply.substr(1, end == std::string_view::npos ? 0 : end - 1));
    outcome = 1;  // err, unless a code below
    for (size_t o = 2; o < kOutcomeNames.size(); ++o) {
      if (code == kOutcomeNames[o]) outcome = o;
    }
  }
  commands_[std::min(command, kCommandNames.size() - 1)][outcome]->Inc();
}

}  // namespace dialkv::api
