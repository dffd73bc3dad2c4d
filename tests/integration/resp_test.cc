// The Redis-protocol port on real nodes (docs/resp.md): redis-cli and redis-benchmark work
// unchanged; bad input is answered with an error and closes only its own connection; tokens,
// scopes and the consistency dial keep their native meaning; the limits hold.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "dialkv/client.h"
#include "server/auth/token.h"
#include "tests/testutil/command.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/test_cluster.h"

namespace dialkv {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testutil::RunCommand;
using testutil::TestCluster;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kRedisCli = "/usr/bin/redis-cli";
constexpr const char* kRedisBenchmark = "/usr/bin/redis-benchmark";

// Length of the complete RESP reply at the front of `s`, or npos while it is incomplete.
size_t ReplyLength(std::string_view s, size_t pos = 0) {
  if (pos >= s.size()) return std::string_view::npos;
  const size_t cr = s.find("\r\n", pos);
  if (cr == std::string_view::npos) return std::string_view::npos;
  const char type = s[pos];
  const std::string header(s.substr(pos + 1, cr - pos - 1));
  size_t end = cr + 2;
  if (type == '$') {
    const long n = std::stol(header);
    if (n < 0) return end - pos;
    if (s.size() < end + static_cast<size_t>(n) + 2) return std::string_view::npos;
    return end + static_cast<size_t>(n) + 2 - pos;
  }
  if (type == '*' || type == '%') {
    const long n = std::stol(header) * (type == '%' ? 2 : 1);
    for (long i = 0; i < n; ++i) {
      const size_t len = ReplyLength(s, end);
      if (len == std::string_view::npos) return len;
      end += len;
    }
  }
  return end - pos;
}

// A blocking RESP connection that sends anything and reads whole replies.
class RespConnection {
 public:
  explicit RespConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RespConnection() { ::close(fd_); }
  RespConnection(const RespConnection&) = delete;
  RespConnection& operator=(const RespConnection&) = delete;

  bool connected() const { return connected_; }

  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

  // The next whole reply as its raw bytes; "" when the connection closed or nothing came
  // within `timeout`.
  std::string Read(milliseconds timeout = milliseconds(10'000)) {
    const auto deadline = SteadyClock::now() + timeout;
    while (true) {
      const size_t len = ReplyLength(buffer_);
      if (len != std::string::npos) {
        std::string reply = buffer_.substr(0, len);
        buffer_.erase(0, len);
        return reply;
      }
      if (!Fill(deadline)) return "";
    }
  }

  // Sends `args` as an array of bulk strings and reads the reply.
  std::string Call(const std::vector<std::string>& args) {
    std::string wire = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args) wire += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    Send(wire);
    return Read();
  }

  // True once the server closed the connection within `timeout` (what it sent before is read
  // and dropped).
  bool ClosedByServer(milliseconds timeout = milliseconds(10'000)) {
    const auto deadline = SteadyClock::now() + timeout;
    while (Fill(deadline)) {
    }
    return closed_;
  }

 private:
  // Reads some bytes; false on close or when the deadline passes.
  bool Fill(SteadyClock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) return false;
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string buffer_;
};

std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

std::unique_ptr<TestCluster> StartOneNode(std::vector<std::string> extra_args = {}) {
  return TestCluster::StartOrFail(
      {.nodes = 1, .replication_factor = 1, .extra_args = std::move(extra_args)});
}

testutil::CommandResult Cli(uint16_t port, std::vector<std::string> args,
                            const std::string& input = "") {
  std::vector<std::string> argv = {kRedisCli, "-p", std::to_string(port)};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, input, milliseconds(30'000));
}

double Metric(uint16_t http_port, const std::string& series) {
  Result<double> value = testutil::MetricValue(http_port, series);
  return value.ok() ? *value : -1;
}

TEST(RespTest, PortsFileNamesTheRespPortAndPingAnswers) {
  auto cluster = StartOneNode();
  ASSERT_NE(cluster, nullptr);
  const uint16_t port = cluster->node(1).resp_port();
  ASSERT_NE(port, 0);
  RespConnection c(port);
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.Call({"PING"}), "+PONG\r\n");
  EXPECT_EQ(c.Call({"ECHO", "hi"}), Bulk("hi"));
}

TEST(RespTest, RedisCliOneShotSetGetDel) {
  auto cluster = StartOneNode();
  ASSERT_NE(cluster, nullptr);
  const uint16_t port = cluster->node(1).resp_port();
  auto set = Cli(port, {"SET", "greeting", "hello world"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(set.out, "OK\n");
  EXPECT_EQ(Cli(port, {"GET", "greeting"}).out, "hello world\n");
  EXPECT_EQ(Cli(port, {"EXISTS", "greeting", "nothing"}).out, "1\n");
  EXPECT_EQ(Cli(port, {"DEL", "greeting"}).out, "1\n");
  EXPECT_EQ(Cli(port, {"GET", "greeting"}).out, "\n");  // Nil, as redis-cli prints it raw.
  EXPECT_EQ(Cli(port, {"DEL", "greeting"}).out, "0\n");
  // The native client sees what RESP wrote: one store.
  EXPECT_EQ(Cli(port, {"SET", "shared", "v1"}).out, "OK\n");
  auto native = cluster->ClientFor(1);
  Result<GetResult> got = native->Get("shared");
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "v1");
}

TEST(RespTest, RedisCliInteractiveCommandsFromStdin) {
  auto cluster = StartOneNode();
  ASSERT_NE(cluster, nullptr);
  const uint16_t port = cluster->node(1).resp_port();
  const auto run = Cli(port, {},
                       "SET a 1\n"
                       "MSET b 2 c 3\n"
                       "MGET a b c missing\n"
                       "AP GET b\n"
                       "DIALKV.MODE ap\n"
                       "DIALKV.MODE\n"
                       "SET d \"two words\"\n"
                       "GET d\n"
                       "SET a 1 EX 10\n"
                       "FLUSHALL\n"
                       "SELECT 1\n"
                       "QUIT\n");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  // redis-cli prints raw replies when its output is not a terminal: nil as an empty line, an
  // error followed by an empty line; it ends at QUIT without printing anything.
  EXPECT_EQ(run.out,
            "OK\nOK\n1\n2\n3\n\n2\nOK\nap\nOK\ntwo words\n"
            "ERR SET option 'EX' is not supported by dialkv: only plain SET key value\n\n"
            "ERR unknown command 'FLUSHALL', with args beginning with:\n\n"
            "ERR DB index is out of range (dialkv has database 0 only)\n\n");
}

TEST(RespTest, RedisBenchmarkRunsWithoutErrors) {
  auto cluster = StartOneNode();
  ASSERT_NE(cluster, nullptr);
  const uint16_t port = cluster->node(1).resp_port();
  const auto run =
      RunCommand({kRedisBenchmark, "-p", std::to_string(port), "-t", "set,get,mset,ping", "-n",
                  "2000", "-c", "4", "-d", "100", "-r", "1000", "--csv"},
                 "", milliseconds(120'000));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // One CSV row per test, the first field its name, the second its requests per second.
  std::map<std::string, double> rps;
  std::istringstream lines(run.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() < 2 || line[0] != '"' || line.rfind("\"test\"", 0) == 0) continue;
    const size_t name_end = line.find('"', 1);
    const size_t value_start = line.find('"', name_end + 1);
    const size_t value_end = line.find('"', value_start + 1);
    rps[line.substr(1, name_end - 1)] =
        std::stod(line.substr(value_start + 1, value_end - value_start - 1));
  }
  for (const char* test : {"PING_INLINE", "PING_MBULK", "SET", "GET", "MSET (10 keys)"}) {
    ASSERT_TRUE(rps.count(test)) << test << " missing from:\n" << run.out;
    EXPECT_GT(rps[test], 0) << test;
  }
  EXPECT_THAT(run.err, ::testing::Not(HasSubstr("rror"))) << run.err;
  const uint16_t http = cluster->node(1).http_port();
  EXPECT_GE(Metric(http, "dialkv_resp_commands_total{command=\"set\",outcome=\"ok\"}"), 2000);
  EXPECT_GE(Metric(http, "dialkv_resp_commands_total{command=\"get\",outcome=\"ok\"}"), 2000);
  EXPECT_GE(Metric(http, "dialkv_resp_commands_total{command=\"mset\",outcome=\"ok\"}"), 2000);
  EXPECT_EQ(Metric(http, "dialkv_resp_commands_total{command=\"get\",outcome=\"err\"}"), 0);
  EXPECT_EQ(Metric(http, "dialkv_resp_commands_total{command=\"set\",outcome=\"err\"}"), 0);
}

TEST(RespTest, BadInputIsAnsweredAndClosesOnlyItsConnection) {
  auto cluster = StartOneNode();
  ASSERT_NE(cluster, nullptr);
  const uint16_t port = cluster->node(1).resp_port();
  RespConnection good(port);
  ASSERT_EQ(good.Call({"SET", "k", "v"}), "+OK\r\n");
  const std::pair<std::string, std::string> cases[] = {
      {"*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*1\r\n$99999999999\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*2\r\n*1\r\n$1\r\nx\r\n", "-ERR Protocol error: expected '$', got '*'\r\n"},
      {"*-9999999999999999999999\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"GET \"unbalanced\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
  };
  for (const auto& [bytes, error] : cases) {
    RespConnection bad(port);
    bad.Send(bytes);
    EXPECT_EQ(bad.Read(), error) << bytes;
    EXPECT_TRUE(bad.ClosedByServer()) << bytes;
    EXPECT_EQ(good.Call({"GET", "k"}), Bulk("v"));
  }
  // Binary keys and values, CR LF inside, pipelined in one write.
  const std::string key("a\0b\r\nc", 6);
  const std::string value("\r\n*1\r\n$4\r\nPING\r\n\0", 17);
  good.Send("*3\r\n$3\r\nSET\r\n" + Bulk(key) + Bulk(value) + "*2\r\n$3\r\nGET\r\n" + Bulk(key) +
            "PING\r\n");
  EXPECT_EQ(good.Read(), "+OK\r\n");
  EXPECT_EQ(good.Read(), Bulk(value));
  EXPECT_EQ(good.Read(), "+PONG\r\n");
  // Wrong arity and empty keys are errors that keep the connection.
  EXPECT_EQ(good.Call({"GET"}), "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_THAT(good.Call({"SET", "", "v"}), StartsWith("-ERR key is empty"));
  EXPECT_EQ(good.Call({"PING"}), "+PONG\r\n");
  EXPECT_GE(Metric(cluster->node(1).http_port(), "dialkv_resp_protocol_errors_total"), 5);
}

TEST(RespTest, ACommandTrickledPastTheReadTimeoutClosesItsConnection) {
  auto cluster = StartOneNode({"--frame-read-timeout-ms=300"});
  ASSERT_NE(cluster, nullptr);
  const uint16_t port = cluster->node(1).resp_port();
  RespConnection slow(port);
  slow.Send("*2\r\n$3\r\nGET\r\n$1");
  EXPECT_EQ(slow.Read(), "-ERR command not complete within 300 ms of its first byte\r\n");
  EXPECT_TRUE(slow.ClosedByServer());
  RespConnection other(port);
  EXPECT_EQ(other.Call({"PING"}), "+PONG\r\n");
}

TEST(RespTest, ConnectionsOverTheLimitAreRefused) {
  auto cluster = StartOneNode({"--max-connections=2"});
  ASSERT_NE(cluster, nullptr);
  const uint16_t port = cluster->node(1).resp_port();
  RespConnection a(port);
  RespConnection b(port);
  ASSERT_EQ(a.Call({"PING"}), "+PONG\r\n");
  ASSERT_EQ(b.Call({"PING"}), "+PONG\r\n");
  RespConnection c(port);
  EXPECT_THAT(c.Read(), StartsWith("-OVERLOADED this node already serves its limit of 2"));
  EXPECT_TRUE(c.ClosedByServer());
  EXPECT_EQ(a.Call({"PING"}), "+PONG\r\n");
}

TEST(RespTest, DefaultModeFlagSetsEachConnectionsModeUntilDialkvModeChangesIt) {
  auto cluster = StartOneNode({"--resp-default-mode=ap"});
  ASSERT_NE(cluster, nullptr);
  const uint16_t port = cluster->node(1).resp_port();
  RespConnection a(port);
  EXPECT_EQ(a.Call({"DIALKV.MODE"}), Bulk("ap"));
  EXPECT_EQ(a.Call({"DIALKV.MODE", "cp"}), "+OK\r\n");
  EXPECT_EQ(a.Call({"DIALKV.MODE"}), Bulk("cp"));
  EXPECT_EQ(a.Call({"DIALKV.MODE", "eventual"}), "-ERR DIALKV.MODE takes cp or ap\r\n");
  RespConnection b(port);  // A new connection starts from the flag again.
  EXPECT_EQ(b.Call({"DIALKV.MODE"}), Bulk("ap"));
  // The prefix changes one command only.
  EXPECT_EQ(b.Call({"CP", "SET", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(b.Call({"DIALKV.MODE"}), Bulk("ap"));
  const uint16_t http = cluster->node(1).http_port();
  EXPECT_EQ(Metric(http, "dialkv_requests_total{op=\"put\",mode=\"cp\",status=\"OK\"}"), 1);
}

TEST(RespTest, HelloThreeSwitchesToResp3) {
  auto cluster = StartOneNode();
  ASSERT_NE(cluster, nullptr);
  RespConnection c(cluster->node(1).resp_port());
  EXPECT_EQ(c.Call({"GET", "missing"}), "$-1\r\n");
  const std::string hello = c.Call({"HELLO", "3"});
  EXPECT_THAT(hello, StartsWith("%7\r\n$6\r\nserver\r\n$6\r\ndialkv\r\n"));
  EXPECT_THAT(hello, HasSubstr("$5\r\nproto\r\n:3\r\n"));
  EXPECT_EQ(c.Call({"GET", "missing"}), "_\r\n");
  EXPECT_EQ(c.Call({"HELLO", "4"}), "-NOPROTO unsupported protocol version\r\n");
  EXPECT_THAT(c.Call({"HELLO", "2"}), StartsWith("*14\r\n"));
  EXPECT_EQ(c.Call({"GET", "missing"}), "$-1\r\n");
  EXPECT_EQ(c.Call({"QUIT"}), "+OK\r\n");
  EXPECT_TRUE(c.ClosedByServer());
}

const std::string kSecret = "0123456789abcdef0123456789abcdef0123456789abcdef";

std::string MakeToken(auth::Scopes scopes) {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auth::TokenClaims claims;
  claims.subject = "resp-test";
  claims.scopes = scopes;
  claims.issued_at_s = now - 60;
  claims.expires_at_s = now + 3600;
  Result<std::string> token = auth::CreateToken(kSecret, claims);
  EXPECT_OK(token);
  return token.ok() ? *token : std::string();
}

TEST(RespTest, TokensAreRequiredAndScopesCheckedAsOnTheNativePort) {
  testutil::TempDir dir;
  const std::string secret_file = dir.Sub("token.secret");
  std::ofstream(secret_file) << kSecret << "\n";
  const auth::Scopes all = auth::kScopeRead | auth::kScopeWrite | auth::kScopeAdmin;
  auto cluster =
      TestCluster::StartOrFail({.nodes = 1,
                                .replication_factor = 1,
                                .extra_args = {"--auth-token-secret-file=" + secret_file},
                                .token = MakeToken(all)});
  ASSERT_NE(cluster, nullptr);
  const uint16_t port = cluster->node(1).resp_port();
  RespConnection c(port);
  EXPECT_EQ(c.Call({"GET", "k"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_EQ(c.Call({"SET", "k", "v"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_EQ(c.Call({"PING"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_THAT(c.Call({"AUTH", "not-a-token"}), StartsWith("-WRONGPASS "));
  EXPECT_EQ(c.Call({"GET", "k"}), "-NOAUTH Authentication required.\r\n");

  ASSERT_EQ(c.Call({"AUTH", MakeToken(auth::kScopeRead)}), "+OK\r\n");
  EXPECT_EQ(c.Call({"GET", "k"}), "$-1\r\n");
  EXPECT_THAT(c.Call({"SET", "k", "v"}), StartsWith("-NOPERM "));
  EXPECT_THAT(c.Call({"DEL", "k"}), StartsWith("-NOPERM "));
  EXPECT_THAT(c.Call({"MSET", "k", "v"}), StartsWith("-NOPERM "));

  // The "AUTH user password" form takes the password.
  ASSERT_EQ(c.Call({"AUTH", "default", MakeToken(auth::kScopeWrite)}), "+OK\r\n");
  EXPECT_EQ(c.Call({"SET", "k", "v"}), "+OK\r\n");
  EXPECT_THAT(c.Call({"GET", "k"}), StartsWith("-NOPERM "));

  // HELLO with AUTH, and redis-cli with a password.
  RespConnection fresh(port);
  EXPECT_THAT(fresh.Call({"HELLO", "3"}), StartsWith("-NOAUTH HELLO must be called"));
  EXPECT_THAT(fresh.Call({"HELLO", "3", "AUTH", "default", MakeToken(all)}), StartsWith("%7\r\n"));
  EXPECT_EQ(fresh.Call({"GET", "k"}), Bulk("v"));
  const auto cli = Cli(port, {"--no-auth-warning", "-a", MakeToken(auth::kScopeRead), "GET", "k"});
  EXPECT_EQ(cli.out, "v\n") << cli.err;
  const uint16_t http = cluster->node(1).http_port();
  EXPECT_EQ(Metric(http, "dialkv_resp_commands_total{command=\"get\",outcome=\"noauth\"}"), 2);
  EXPECT_EQ(Metric(http, "dialkv_resp_commands_total{command=\"set\",outcome=\"noperm\"}"), 1);
  EXPECT_GE(Metric(http, "dialkv_client_auth_failures_total{reason=\"denied\"}"), 4);
}

TEST(RespTest, ARespPortOutsideLoopbackNeedsTheSecretsLikeTheClientPort) {
  testutil::TempDir dir;
  const auto run =
      RunCommand({testutil::ServerBinary(), "--node-id=1", "--data-dir=" + dir.Sub("data"),
                  "--listen=127.0.0.1:0", "--peer-listen=127.0.0.1:0", "--http-listen=127.0.0.1:0",
                  "--resp-listen=0.0.0.0:0"},
                 "", milliseconds(20'000));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("--resp-listen 0.0.0.0:0 is reachable from other hosts"));
  EXPECT_THAT(run.err, HasSubstr("--auth-token-secret-file"));
}

TEST(RespTest, CpWriteOnAnIsolatedNodeIsUnavailableWhileApWriteSucceeds) {
  auto cluster = TestCluster::StartOrFail(
      {.nodes = 3, .replication_factor = 3, .extra_args = {"--enable-fault-injection"}});
  ASSERT_NE(cluster, nullptr);
  const uint16_t port = cluster->node(1).resp_port();
  RespConnection c(port);
  ASSERT_EQ(c.Call({"SET", "k", "before"}), "+OK\r\n");
  // Node 1 cut off from 2 and 3, both ways.
  std::vector<std::unique_ptr<Client>> admins;
  for (NodeId id = 1; id <= 3; ++id) admins.push_back(cluster->ClientFor(id, Consistency::kCp));
  ASSERT_OK(admins[0]->SetFaults({{.peer = 2, .block_out = true, .block_in = true},
                                  {.peer = 3, .block_out = true, .block_in = true}}));
  ASSERT_OK(admins[1]->SetFaults({{.peer = 1, .block_out = true, .block_in = true}}));
  ASSERT_OK(admins[2]->SetFaults({{.peer = 1, .block_out = true, .block_in = true}}));

  EXPECT_THAT(c.Call({"SET", "k", "cp"}), StartsWith("-UNAVAILABLE "));
  EXPECT_THAT(c.Call({"CP", "GET", "k"}), StartsWith("-UNAVAILABLE "));
  EXPECT_EQ(c.Call({"AP", "SET", "k", "ap"}), "+OK\r\n");
  EXPECT_EQ(c.Call({"AP", "GET", "k"}), Bulk("ap"));
  ASSERT_EQ(c.Call({"DIALKV.MODE", "ap"}), "+OK\r\n");
  EXPECT_EQ(c.Call({"SET", "k2", "ap"}), "+OK\r\n");
  EXPECT_THAT(c.Call({"CP", "SET", "k2", "cp"}), StartsWith("-UNAVAILABLE "));
  // An MSET that fails at its first key applied nothing: the error keeps its meaning.
  EXPECT_THAT(c.Call({"CP", "MSET", "x", "1", "y", "2"}), StartsWith("-UNAVAILABLE "));
  EXPECT_GE(Metric(cluster->node(1).http_port(),
                   "dialkv_resp_commands_total{command=\"set\",outcome=\"unavailable\"}"),
            2);
}

}  // namespace
}  // namespace dialkv
