// Client tokens on real nodes: every request needs a token whose scopes and key prefix allow
// it; hostile tokens are refused; nothing refused is applied; an expired token stops working on
// an open connection; protected mode; the CLI's token commands.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>

#include "server/auth/token.h"
#include "tests/testutil/command.h"
#include "tests/testutil/eventually.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/test_cluster.h"

namespace dialkv {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using testutil::CommandResult;
using testutil::Eventually;
using testutil::RunCommand;
using testutil::TestCluster;

const std::string kSecret = "0123456789abcdef0123456789abcdef0123456789abcdef";

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string MakeToken(auth::Scopes scopes, std::optional<std::string> prefix = std::nullopt,
                      int64_t ttl_s = 3600, const std::string& secret = kSecret) {
  auth::TokenClaims claims;
  claims.subject = "test";
  claims.scopes = scopes;
  claims.prefix = std::move(prefix);
  claims.issued_at_s = NowSeconds() - 7200;
  claims.expires_at_s = NowSeconds() + ttl_s;
  Result<std::string> token = auth::CreateToken(secret, claims);
  EXPECT_OK(token);
  return token.ok() ? *token : std::string();
}

const auth::Scopes kAll = auth::kScopeRead | auth::kScopeWrite | auth::kScopeAdmin;

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    secret_file_ = dir_.Sub("token.secret");
    std::ofstream(secret_file_) << kSecret << "\n";
    cluster_ =
        TestCluster::StartOrFail({.nodes = 1,
                                  .replication_factor = 1,
                                  .extra_args = {"--auth-token-secret-file=" + secret_file_,
                                                 "--enable-fault-injection", "--token-leeway-s=0"},
                                  .token = MakeToken(kAll)});
    ASSERT_NE(cluster_, nullptr);
  }

  std::unique_ptr<Client> ClientWith(const std::string& token) const {
    ClientOptions options;
    options.endpoints = {cluster_->node(1).client_address()};
    options.timeout_ms = 2000;
    options.token = token;
    Result<std::unique_ptr<Client>> client = Client::Create(options);
    EXPECT_OK(client);
    return client.ok() ? std::move(client).value() : nullptr;
  }

  // What the node stores for `key`, read with an admin token: proves a refused write left
  // nothing behind.
  Result<LocalVersion> Stored(const std::string& key) const {
    return ClientWith(MakeToken(kAll))->ReadLocal(key);
  }

  testutil::TempDir dir_;
  std::string secret_file_;
  std::unique_ptr<TestCluster> cluster_;
};

TEST_F(AuthTest, WithoutATokenNothingIsServedAndNothingApplied) {
  auto anonymous = ClientWith("");
  const Result<WriteResult> put = anonymous->Put("k", "v");
  ASSERT_CODE(put, Code::kUnauthenticated);
  EXPECT_THAT(put.status().message(), HasSubstr("requires a token"));
  EXPECT_CODE(anonymous->Get("k"), Code::kUnauthenticated);
  EXPECT_CODE(anonymous->Delete("k"), Code::kUnauthenticated);
  EXPECT_CODE(anonymous->ClusterStatus(), Code::kUnauthenticated);
  EXPECT_CODE(anonymous->Repair(), Code::kUnauthenticated);
  EXPECT_CODE(anonymous->SetFaults({{.peer = 1, .block_out = true}}), Code::kUnauthenticated);
  EXPECT_CODE(Stored("k"), Code::kNotFound);
  Result<std::string> metrics = testutil::HttpGet(cluster_->node(1).http_port(), "/metrics");
  ASSERT_OK(metrics);
  EXPECT_THAT(*metrics, HasSubstr("dialkv_client_auth_failures_total{reason=\"missing\"} 6"));
}

TEST_F(AuthTest, EachOperationNeedsItsScopeAndRefusalsApplyNothing) {
  auto reader = ClientWith(MakeToken(auth::kScopeRead));
  auto writer = ClientWith(MakeToken(auth::kScopeWrite));
  auto both = ClientWith(MakeToken(auth::kScopeRead | auth::kScopeWrite));

  const Result<WriteResult> denied = reader->Put("k", "from-reader");
  ASSERT_CODE(denied, Code::kPermissionDenied);
  EXPECT_THAT(denied.status().message(), HasSubstr("kv:write"));
  EXPECT_CODE(reader->Delete("k"), Code::kPermissionDenied);
  EXPECT_CODE(Stored("k"), Code::kNotFound);

  ASSERT_OK(writer->Put("k", "v1"));
  EXPECT_CODE(writer->Get("k"), Code::kPermissionDenied);
  EXPECT_CODE(writer->ClusterStatus(), Code::kPermissionDenied);
  Result<GetResult> got = reader->Get("k");
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "v1");
  EXPECT_OK(reader->ClusterStatus());

  // Repair, fault injection and ReadLocal need admin.
  EXPECT_CODE(both->Repair(), Code::kPermissionDenied);
  EXPECT_CODE(both->ReadLocal("k"), Code::kPermissionDenied);
  EXPECT_CODE(both->SetClockOffset(1000), Code::kPermissionDenied);
  auto admin = ClientWith(MakeToken(auth::kScopeAdmin));
  Result<FaultState> faults = admin->GetFaults();
  ASSERT_OK(faults);
  EXPECT_EQ(faults->clock_offset_ms, 0) << "a refused SetClockOffset changed the clock";
  EXPECT_OK(admin->SetClockOffset(0));
}

TEST_F(AuthTest, APrefixTokenTouchesOnlyItsKeys) {
  auto tenant = ClientWith(MakeToken(auth::kScopeRead | auth::kScopeWrite, "tenant-a/"));
  ASSERT_OK(tenant->Put("tenant-a/x", "mine"));
  const Result<WriteResult> outside = tenant->Put("tenant-b/x", "theirs");
  ASSERT_CODE(outside, Code::kPermissionDenied);
  EXPECT_THAT(outside.status().message(), HasSubstr("tenant-a/"));
  EXPECT_CODE(Stored("tenant-b/x"), Code::kNotFound);
  ASSERT_OK(ClientWith(MakeToken(kAll))->Put("tenant-b/y", "theirs"));
  EXPECT_CODE(tenant->Get("tenant-b/y"), Code::kPermissionDenied);
  EXPECT_CODE(tenant->Delete("tenant-b/y"), Code::kPermissionDenied);
  Result<LocalVersion> kept = Stored("tenant-b/y");
  ASSERT_OK(kept);
  EXPECT_EQ(kept->value, "theirs");
}

TEST_F(AuthTest, HostileTokensAreRefusedAndApplyNothing) {
  const std::string good = MakeToken(kAll);
  const std::string claims_and_sig = good.substr(good.find('.'));
  const std::vector<std::pair<std::string, std::string>> hostile = {
      {"expired", MakeToken(kAll, std::nullopt, -120)},
      {"another secret", MakeToken(kAll, std::nullopt, 3600, std::string(48, 'x'))},
      // {"alg":"none"} and {"alg":"RS256"} headers on a token the node signed.
      {"alg none", "eyJhbGciOiJub25lIn0" + claims_and_sig},
      {"alg RS256", "eyJhbGciOiJSUzI1NiJ9" + claims_and_sig},
      {"truncated", good.substr(0, good.size() - 10)},
      {"bad base64", "%%%." + good.substr(good.find('.') + 1)},
      {"1 MiB", std::string(1 << 20, 'e')},
  };
  for (const auto& [what, token] : hostile) {
    SCOPED_TRACE(what);
    auto client = ClientWith(token);
    const Result<WriteResult> put = client->Put("hostile", what);
    EXPECT_CODE(put, Code::kUnauthenticated);
    EXPECT_CODE(client->Get("hostile"), Code::kUnauthenticated);
  }
  EXPECT_CODE(Stored("hostile"), Code::kNotFound);
  // The node kept serving everyone else throughout.
  EXPECT_OK(ClientWith(good)->Put("after", "ok"));
}

TEST_F(AuthTest, AnExpiredTokenStopsWorkingOnAnOpenConnectionAndAFreshOneRestoresIt) {
  auto client = ClientWith(MakeToken(kAll, std::nullopt, 2));
  ASSERT_OK(client->Put("k", "before"));
  Status last;
  EXPECT_TRUE(Eventually(
      [&] {
        last = client->Put("k", "late").status();
        return last.code() == Code::kUnauthenticated;
      },
      milliseconds(15000)))
      << "the expired token still worked: " << last.ToString();
  EXPECT_THAT(last.message(), HasSubstr("expired"));
  ASSERT_OK(client->SetToken(MakeToken(kAll)));
  ASSERT_OK(client->Put("k", "after"));
  Result<GetResult> got = client->Get("k");
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "after");
  // A refused replacement leaves the connection with no token.
  EXPECT_CODE(client->SetToken("not-a-token"), Code::kUnauthenticated);
  EXPECT_CODE(client->Get("k"), Code::kUnauthenticated);
}

TEST_F(AuthTest, TheCliMakesTokensAndPresentsThemFromTheEnvironment) {
  const std::string endpoint = cluster_->node(1).client_address();
  CommandResult made =
      RunCommand({DIALKV_CLI_PATH, "token", "create", "--secret-file", secret_file_, "--scopes",
                  "kv:read,kv:write", "--ttl", "10m", "--subject", "cli"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  std::string token = made.out;
  while (!token.empty() && token.back() == '\n') token.pop_back();

  CommandResult without = RunCommand({DIALKV_CLI_PATH, "--endpoints", endpoint, "put", "k", "v"});
  EXPECT_EQ(without.exit_code, 5);
  EXPECT_THAT(without.err, HasSubstr("UNAUTHENTICATED"));
  CommandResult put = RunCommand({"/usr/bin/env", "DIALKV_TOKEN=" + token, DIALKV_CLI_PATH,
                                  "--endpoints", endpoint, "put", "k", "v"});
  EXPECT_EQ(put.exit_code, 0) << put.err;
  CommandResult got =
      RunCommand({DIALKV_CLI_PATH, "--endpoints", endpoint, "--token", token, "get", "k"});
  EXPECT_EQ(got.exit_code, 0) << got.err;
  EXPECT_EQ(got.out, "v");
  CommandResult repair =
      RunCommand({DIALKV_CLI_PATH, "--endpoints", endpoint, "--token", token, "repair"});
  EXPECT_EQ(repair.exit_code, 5);
  EXPECT_THAT(repair.err, HasSubstr("PERMISSION_DENIED"));

  CommandResult bad_scope = RunCommand({DIALKV_CLI_PATH, "token", "create", "--secret-file",
                                        secret_file_, "--scopes", "kv:read,root"});
  EXPECT_EQ(bad_scope.exit_code, 2);
  EXPECT_THAT(bad_scope.err, HasSubstr("unknown scope 'root'"));
  CommandResult bad_ttl = RunCommand({DIALKV_CLI_PATH, "token", "create", "--secret-file",
                                      secret_file_, "--scopes", "admin", "--ttl", "forever"});
  EXPECT_EQ(bad_ttl.exit_code, 2);
}

TEST(ProtectedModeTest, ANodeOnANetworkAddressRefusesToStartWithoutBothSecrets) {
  testutil::TempDir dir;
  const std::string secret_file = dir.Sub("secret");
  std::ofstream(secret_file) << kSecret << "\n";
  const std::vector<std::string> base = {
      testutil::ServerBinary(),        "--node-id=1",
      "--data-dir=" + dir.Sub("data"), "--peer-listen=127.0.0.1:0",
      "--http-listen=127.0.0.1:0",     "--resp-listen=off"};
  // The check runs before anything listens: nothing here binds a non-loopback address.
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv, "", milliseconds(20000));
  };
  CommandResult open = run({"--listen=0.0.0.0:0"});
  EXPECT_NE(open.exit_code, 0);
  EXPECT_THAT(open.err + open.out, HasSubstr("--auth-token-secret-file and --cluster-secret-file"));
  CommandResult half = run({"--listen=0.0.0.0:0", "--cluster-secret-file=" + secret_file});
  EXPECT_NE(half.exit_code, 0);
  EXPECT_THAT(half.err + half.out, HasSubstr("give --auth-token-secret-file"));
  EXPECT_THAT(half.err + half.out, HasSubstr("--insecure"));
}

}  // namespace
}  // namespace dialkv
