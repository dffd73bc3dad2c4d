// dialkv::Client's fault-injection and inspection calls against fake nodes: encoding of
// patches, decoding of states and versions, errors, and that they never leave the first
// endpoint.
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dialkv/client.h"
#include "tests/testutil/status_matchers.h"
#include "tests/unit/client/fake_server.h"
#include "tests/unit/client/make_client.h"

namespace dialkv {
namespace {

using client_test::ClosedPort;
using client_test::FakeServer;
using client_test::MakeClient;
using Behavior = client_test::FakeServer::Behavior;

const std::vector<NodeId> kMembers = {1, 2, 3};

std::string Closed() { return "127.0.0.1:" + std::to_string(ClosedPort()); }

TEST(ClientAdminTest, SetFaultsSendsOnlyThePatchedFieldsAndReturnsTheNewState) {
  FakeServer node(1, kMembers);
  auto client = MakeClient({node.endpoint()});
  ASSERT_NE(client, nullptr);

  LinkFaultsPatch to2{.peer = 2,
                      .drop_out = 0.5,
                      .drop_in = 0.25,
                      .block_out = false,
                      .block_in = true,
                      .delay_ms = 10,
                      .jitter_ms = 5};
  LinkFaultsPatch to3{.peer = 3, .block_out = true};
  Result<FaultState> state = client->SetFaults({to2, to3}, 42);
  ASSERT_OK(state);
  EXPECT_EQ(state->node_id, 1u);
  EXPECT_EQ(state->seed, 42u);
  EXPECT_EQ(state->clock_offset_ms, 0);
  const std::vector<LinkFaults> want = {
      LinkFaults{.peer = 2,
                 .drop_out = 0.5,
                 .drop_in = 0.25,
                 .block_in = true,
                 .delay_ms = 10,
                 .jitter_ms = 5},
      LinkFaults{.peer = 3, .block_out = true},
  };
  EXPECT_EQ(state->links, want);
  EXPECT_EQ(node.fault_state().links_size(), 2);

  // An unset field keeps the link's value; no seed keeps the seed.
  Result<FaultState> after = client->SetFaults({LinkFaultsPatch{.peer = 2, .drop_out = 0.0}});
  ASSERT_OK(after);
  EXPECT_EQ(after->seed, 42u);
  ASSERT_EQ(after->links.size(), 2u);
  EXPECT_EQ(
      after->links[0],
      (LinkFaults{.peer = 2, .drop_in = 0.25, .block_in = true, .delay_ms = 10, .jitter_ms = 5}));
}

TEST(ClientAdminTest, GetClearAndClockOffsetReturnTheNodesState) {
  FakeServer node(2, kMembers);
  auto client = MakeClient({node.endpoint()});
  ASSERT_NE(client, nullptr);

  Result<FaultState> got = client->GetFaults();
  ASSERT_OK(got);
  EXPECT_EQ(*got, (FaultState{.node_id = 2, .links = {}, .seed = 1, .clock_offset_ms = 0}));

  Result<FaultState> skewed = client->SetClockOffset(-1500);
  ASSERT_OK(skewed);
  EXPECT_EQ(skewed->clock_offset_ms, -1500);
  ASSERT_OK(client->SetFaults({LinkFaultsPatch{.peer = 1, .block_out = true}}));
  EXPECT_EQ(client->GetFaults()->links.size(), 1u);

  Result<FaultState> cleared = client->ClearFaults();
  ASSERT_OK(cleared);
  EXPECT_TRUE(cleared->links.empty());
  EXPECT_EQ(cleared->clock_offset_ms, 0);
  EXPECT_EQ(node.fault_state().links_size(), 0);
}

TEST(ClientAdminTest, ReadLocalDecodesValuesTombstonesAndNotFound) {
  FakeServer node(3, kMembers);
  auto client = MakeClient({node.endpoint()});
  ASSERT_NE(client, nullptr);

  const Timestamp ts{client_test::kLocalHlc, client_test::kLocalWriter};
  Result<LocalVersion> value = client->ReadLocal("k");
  ASSERT_OK(value);
  EXPECT_EQ(*value, (LocalVersion{.node_id = 3, .value = "local-k", .timestamp = ts}));
  Result<LocalVersion> tombstone = client->ReadLocal("deleted");
  ASSERT_OK(tombstone);
  EXPECT_EQ(*tombstone,
            (LocalVersion{.node_id = 3, .value = "", .timestamp = ts, .tombstone = true}));
  ASSERT_CODE(client->ReadLocal("missing"), Code::kNotFound);
}

TEST(ClientAdminTest, TheNodesRefusalComesBackWithItsMessage) {
  FakeServer node(Code::kPermissionDenied);
  auto client = MakeClient({node.endpoint()});
  ASSERT_NE(client, nullptr);
  const std::string message = "PERMISSION_DENIED from " + node.endpoint();

  Result<FaultState> set = client->SetFaults({LinkFaultsPatch{.peer = 2, .block_out = true}});
  ASSERT_CODE(set, Code::kPermissionDenied);
  EXPECT_EQ(set.status().message(), message);
  ASSERT_CODE(client->ClearFaults(), Code::kPermissionDenied);
  ASSERT_CODE(client->GetFaults(), Code::kPermissionDenied);
  ASSERT_CODE(client->SetClockOffset(1), Code::kPermissionDenied);
  Result<LocalVersion> local = client->ReadLocal("k");
  ASSERT_CODE(local, Code::kPermissionDenied);
  EXPECT_EQ(local.status().message(), message);
}

TEST(ClientAdminTest, ARefusedPatchChangesNothing) {
  FakeServer node(1, kMembers);
  auto client = MakeClient({node.endpoint()});
  ASSERT_NE(client, nullptr);
  ASSERT_CODE(client->SetFaults({LinkFaultsPatch{.peer = 2, .block_out = true},
                                 LinkFaultsPatch{.peer = 9, .block_out = true}}),
              Code::kInvalidArgument);
  ASSERT_CODE(client->SetFaults({LinkFaultsPatch{.peer = 2, .drop_out = 1.5}}),
              Code::kInvalidArgument);
  EXPECT_EQ(node.fault_state().links_size(), 0);
}

TEST(ClientAdminTest, AdminCallsNeverFailOverFromAnUnreachableFirstEndpoint) {
  FakeServer second(2, kMembers);
  const std::string closed = Closed();
  auto client = MakeClient({closed, second.endpoint()});
  ASSERT_NE(client, nullptr);

  Result<FaultState> set = client->SetFaults({LinkFaultsPatch{.peer = 1, .block_out = true}});
  ASSERT_CODE(set, Code::kUnavailable);
  EXPECT_NE(set.status().message().find(closed), std::string::npos) << set.status().ToString();
  ASSERT_CODE(client->ClearFaults(), Code::kUnavailable);
  ASSERT_CODE(client->GetFaults(), Code::kUnavailable);
  ASSERT_CODE(client->SetClockOffset(5), Code::kUnavailable);
  ASSERT_CODE(client->ReadLocal("k"), Code::kUnavailable);
  EXPECT_EQ(second.requests(), 0u);
  // Gets and puts still fail over.
  ASSERT_OK(client->Get("k"));
  EXPECT_EQ(second.requests(), 1u);
}

TEST(ClientAdminTest, AdminCallsNeverFailOverFromAnUnavailableReplyOrALostConnection) {
  FakeServer refuser(Code::kUnavailable);
  FakeServer dropper(Behavior::kDropConnection);
  FakeServer other(2, kMembers);

  auto refused = MakeClient({refuser.endpoint(), other.endpoint()});
  ASSERT_NE(refused, nullptr);
  ASSERT_CODE(refused->GetFaults(), Code::kUnavailable);
  ASSERT_CODE(refused->ClearFaults(), Code::kUnavailable);
  EXPECT_EQ(refuser.requests(), 2u);

  auto dropped = MakeClient({dropper.endpoint(), other.endpoint()});
  ASSERT_NE(dropped, nullptr);
  // A change whose connection was lost may have been applied; a read changed nothing.
  Result<FaultState> set = dropped->SetFaults({LinkFaultsPatch{.peer = 1, .block_out = true}});
  ASSERT_CODE(set, Code::kUnknown);
  EXPECT_NE(set.status().message().find("may have been applied"), std::string::npos)
      << set.status().ToString();
  ASSERT_CODE(dropped->SetClockOffset(5), Code::kUnknown);
  ASSERT_CODE(dropped->GetFaults(), Code::kUnavailable);
  ASSERT_CODE(dropped->ReadLocal("k"), Code::kUnavailable);
  EXPECT_EQ(other.requests(), 0u);
}

TEST(ClientAdminTest, NoReplyInTimeIsTimeoutForReadsAndUnknownForChanges) {
  FakeServer silent(Behavior::kSilent);
  FakeServer other(2, kMembers);
  auto client = MakeClient({silent.endpoint(), other.endpoint()}, /*timeout_ms=*/200);
  ASSERT_NE(client, nullptr);
  ASSERT_CODE(client->GetFaults(), Code::kTimeout);
  ASSERT_CODE(client->ReadLocal("k"), Code::kTimeout);
  ASSERT_CODE(client->ClearFaults(), Code::kUnknown);
  EXPECT_EQ(other.requests(), 0u);
}

// `client` and `out` outlive the coroutine: the test runs its io_context to completion.
asio::awaitable<void> SetThenRead(Client* client, std::optional<Result<FaultState>>* set,
                                  std::optional<Result<LocalVersion>>* local) {
  std::vector<LinkFaultsPatch> patches = {LinkFaultsPatch{.peer = 2, .delay_ms = 7}};
  *set = co_await client->AsyncSetFaults(std::move(patches), 3);
  *local = co_await client->AsyncReadLocal("k");
  RequestOptions options;
  options.timeout_ms = 1000;
  Result<FaultState> cleared = co_await client->AsyncClearFaults(std::move(options));
  Result<FaultState> skewed = co_await client->AsyncSetClockOffset(9);
  Result<FaultState> got = co_await client->AsyncGetFaults();
  if (!cleared.ok() || !skewed.ok() || !got.ok() || got->clock_offset_ms != 9) set->reset();
}

TEST(ClientAdminTest, AsyncAdminCallsAreAwaitableFromAForeignIoContext) {
  FakeServer node(1, kMembers);
  auto client = MakeClient({node.endpoint()});
  ASSERT_NE(client, nullptr);

  asio::io_context foreign;
  std::optional<Result<FaultState>> set;
  std::optional<Result<LocalVersion>> local;
  asio::co_spawn(foreign, SetThenRead(client.get(), &set, &local), asio::detached);
  foreign.run();
  ASSERT_TRUE(set.has_value());
  ASSERT_OK(*set);
  EXPECT_EQ((*set)->seed, 3u);
  EXPECT_EQ((*set)->links, std::vector<LinkFaults>({LinkFaults{.peer = 2, .delay_ms = 7}}));
  ASSERT_TRUE(local.has_value());
  ASSERT_OK(*local);
  EXPECT_EQ((*local)->value, "local-k");
}

}  // namespace
}  // namespace dialkv
