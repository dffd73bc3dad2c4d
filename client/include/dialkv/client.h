#pragma once
// dialkv client library: reads and writes keys of a dialkv cluster over its client port.
//
//   auto client = dialkv::Client::Create({.endpoints = {"10.0.0.1:7379", "10.0.0.2:7379"}});
//   if (!client.ok()) return client.status();
//   dialkv::Result<dialkv::WriteResult> put = (*client)->Put("user:42", "Ada");
//   dialkv::Result<dialkv::GetResult> got = (*client)->Get("user:42");
//   if (got.ok()) Use(got->value); else if (got.code() == dialkv::Code::kNotFound) Missing();
//   // A possibly stale read that any live replica may serve:
//   got = (*client)->Get("user:42", {.consistency = dialkv::Consistency::kAp});
//
// Each get, put and delete runs in a consistency mode (types.h; docs/consistency.md):
//   kCp  linearizable quorum reads and writes, or a clear error while no quorum of the key's
//        replicas answers. The default.
//   kAp  served by whichever replica answers; reads may be stale; writes are accepted while
//        the node that receives them is up, and reach the other replicas later.
// Modes may be mixed on one key, but linearizability is promised only for a key whose whole
// history (every read and write, from every client) uses kCp. An AP write is ordered by
// last-writer-wins against CP writes like any other, so it can make a CP read of that key
// return a value that a linearizable history would not allow.
//
// Every call returns a Result whose code says what is known about the request:
//   kUnavailable  it was definitely not applied (no endpoint reachable, its deadline passed
//                 before it could be sent, or every node tried said so); safe to retry.
//   kUnknown      a write that may have been applied: the connection was lost after it was
//                 sent (a CP write; an AP write is resent elsewhere, and is kUnknown if that
//                 fails too), no answer came before its deadline, or the node said so.
//                 Retrying may apply it twice; read the key to find out.
//   kTimeout      a read that did not finish before its deadline.
//   anything else the status the cluster returned (kNotFound, kInvalidArgument, ...), with
//                 its message.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dialkv/admin.h"
#include "dialkv/status.h"
#include "dialkv/types.h"

namespace dialkv {

// Client-wide settings. Per-request settings in RequestOptions override the defaults here.
struct ClientOptions {
  // "host:port" of every node the client may send requests to, e.g. "10.0.0.1:7379" or
  // "[::1]:7379". Requests go to one endpoint at a time, the last one that answered first,
  // and fail over to the next in this order. Host names are resolved at each connect.
  std::vector<std::string> endpoints;

  // Default deadline of a request, from the call until its result. Sent to the node, which
  // answers within it; the client gives up reply_grace_ms later. REQUIRES: > 0.
  uint32_t timeout_ms = 5000;

  // How long one connection attempt to one endpoint may take before the client moves on to
  // the next endpoint. Lower fails over faster from an unreachable host; too low gives up
  // on a slow but healthy network. REQUIRES: > 0.
  uint32_t connect_timeout_ms = 1000;

  // How long past a request's deadline the client still waits for the node's own answer,
  // which says whether a write was applied, before reporting kUnknown or kTimeout itself.
  uint32_t reply_grace_ms = 100;

  // Largest frame sent or accepted. A request larger than this fails with kInvalidArgument
  // and is not sent; a larger reply closes the connection. Match the nodes' --max-frame-bytes.
  uint32_t max_frame_bytes = 16u << 20;

  // Requests in flight at once across the whole client. Past it, calls fail at once with
  // kOverloaded and nothing is sent.
  uint32_t max_inflight_requests = 65536;

  // A token (a JWT: `dialkv token create`), for nodes started with --auth-token-secret-file:
  // each connection presents it before its first request. Empty: none, and such nodes answer
  // every call kUnauthenticated. A node that does not check tokens accepts and ignores one.
  // A token the nodes refuse (bad, expired) fails calls with kUnauthenticated, and one that
  // does not allow a call (scope, key prefix) fails it with kPermissionDenied; neither is
  // failed over, and nothing was applied. An open connection stops working when its token
  // expires: replace the token before that with Client::SetToken.
  std::string token = {};

  // A PEM file of the CA certificate(s) that signed the nodes' client-port certificates, for
  // nodes started with --tls-cert: every connection then speaks TLS and checks that the
  // node's certificate chains to this CA and names the host of its endpoint (an address in
  // the endpoint must be in the certificate's subjectAltName as an IP address). Empty: plain
  // TCP, which a TLS port refuses. Create() fails with kInvalidArgument when it cannot be
  // loaded; a node whose certificate does not verify fails calls with kUnavailable (nothing
  // sent), naming the reason.
  std::string tls_ca_file = {};

  // The mode of every get, put and delete that does not set RequestOptions::consistency.
  // kCp by default because it is the mode whose errors are honest: a program that never
  // thought about consistency reads what was last written, and learns from kUnavailable or
  // kUnknown when the cluster cannot promise that, instead of silently reading stale data or
  // losing a write to a concurrent one. kAp trades that for availability and latency, and
  // should be a deliberate choice (a cache, a counter that tolerates staleness).
  // REQUIRES: kCp or kAp.
  Consistency default_consistency = Consistency::kCp;

  // Where the client's connections and requests run. Empty (the default): on an I/O thread
  // the client starts for itself, so every call hops to that thread and its caller is woken
  // from there. Set it to the executor of an io_context run by one thread (an application's
  // or a load generator's own I/O thread) to run the client on that thread instead: the client
  // starts no thread, and a coroutine on that executor that co_awaits an Async call is served
  // without a hop between threads (a coroutine on another executor still may await it; the
  // request then hops as above). With it set:
  //   - the sync calls block their thread until that executor has served them, so they must
  //     not be made on its thread; there they fail at once with kInvalidArgument;
  //   - destroying the client closes its connections and completes its pending calls as
  //     below, without waiting; the client's state is freed on that executor once its last
  //     coroutine is done, so the executor must keep running until then (an io_context's
  //     run() returns only after it, like after any other work).
  // It must be an io_context's own executor (io_context::get_executor()), of an io_context run
  // by one thread; any other executor is refused by Create with kInvalidArgument.
  asio::any_io_executor executor = {};
};

// Per-request settings. An unset field takes the client-wide default from ClientOptions.
// The explicit initializers let callers set one field by name, {.consistency = ...}, without
// a missing-initializer warning for the others.
struct RequestOptions {
  // Deadline of this request. REQUIRES: > 0 when set.
  std::optional<uint32_t> timeout_ms = std::nullopt;

  // Mode of this get, put or delete; ignored by the other calls. REQUIRES: kCp or kAp when set.
  std::optional<Consistency> consistency = std::nullopt;
};

// A value read, and the timestamp of the version it came from.
struct GetResult {
  std::string value;
  Timestamp timestamp;
};

// The outcome of a put or delete that succeeded.
struct WriteResult {
  // The timestamp the version (for a delete, its tombstone) was written with.
  Timestamp timestamp;

  // AP writes only (a CP write is never hinted): the node accepted the write, but none of the
  // key's replicas acknowledged it in time, so the node holds it as hints and delivers it to
  // the replicas once it sees them alive. For a reader this means the write is not visible
  // yet: reads served by the replicas, CP reads included, return the previous value until a
  // hint is delivered, and if the coordinating node is lost for good before that, so is the
  // write. Like any write it may still lose to a write with a higher timestamp.
  bool hinted = false;
};

// One member of the cluster as the node that answered ClusterStatus sees it.
struct NodeInfo {
  NodeId node_id = 0;
  std::string peer_address;  // "host:port" of its peer port, as configured by --peers.
  // "self" (the node that answered), "alive", "suspect" (missed heartbeats; may be down or
  // cut off) or "dead"; a newer node may report other states, passed through as they are.
  std::string state;
  uint64_t generation = 0;         // Grows at each restart of that node.
  uint64_t heartbeat = 0;          // Grows while it runs.
  int64_t last_heard_ms_ago = -1;  // Since its heartbeat last advanced; -1: never heard.
  uint64_t live_keys = 0;          // Keys it stores, as it last gossiped them.
  // Its wall clock minus the answering node's (positive: it is ahead), estimated from gossip
  // round trips, within clock_offset_rtt_ms / 2; unknown for the answering node itself and
  // for nodes not heard from recently.
  bool clock_offset_known = false;
  int64_t clock_offset_ms = 0;
  int64_t clock_offset_rtt_ms = 0;
};

// A node's disk alarm: while raised, the node takes no writes (as coordinator or as replica;
// UNAVAILABLE, so the client tries another node) and serves reads. It clears by itself.
struct DiskAlarm {
  bool low_space = false;      // Free space under the node's --min-free-disk-bytes.
  bool storage_error = false;  // Its storage failed to write (disk full or failing).
  std::string message = {};    // Why it refuses writes; empty when it does not.
  int64_t since_ms = 0;        // When it was raised (ms since the Unix epoch); 0: not raised.
  uint64_t free_bytes = 0;     // Free space of its data dir's file system, as last measured.
  uint64_t min_free_bytes = 0;

  bool raised() const { return low_space || storage_error; }
};

// The cluster as one node sees it: membership and liveness come from gossip, so nodes may
// briefly disagree, and a node cut off from the others reports them suspect or dead.
struct ClusterStatus {
  NodeId node_id = 0;  // The node that answered.
  std::string cluster_name;
  uint32_t replication_factor = 0;
  std::vector<NodeInfo> nodes;  // Every member, the answering one included.
  // Anti-entropy on the answering node: when (ms since the Unix epoch, its wall clock) the
  // oldest of its ranges last completed a full round with every other replica; 0 when some
  // range has not completed one since the node started.
  int64_t ae_oldest_full_round_ms = 0;
  // The answering node's clock differs from a majority of its peers' by more than its
  // --max-clock-skew-ms: it refuses to coordinate writes (UNAVAILABLE, "clock skew").
  bool clock_skewed = false;
  DiskAlarm disk_alarm;  // The answering node's.
  // The answering node's storage (RocksDB), in bytes unless the name says otherwise.
  struct Storage {
    uint64_t data_dir_bytes = 0;   // Every file of its data dir.
    uint64_t sst_bytes = 0;        // Live SST files.
    uint64_t live_data_bytes = 0;  // RocksDB's estimate of the data without obsolete versions.
    uint64_t wal_bytes = 0;        // Live write-ahead log: what a restart replays.
    uint64_t memtable_bytes = 0;
    uint64_t pending_compaction_bytes = 0;
    uint64_t write_stalls = 0;  // Since it started: periods RocksDB delayed or stopped writes.
    uint64_t write_stall_ms = 0;
    uint64_t longest_write_stall_ms = 0;
    uint64_t recovery_ms = 0;  // Opening its data dir at start, WAL replay included.
  } storage;
};

// One anti-entropy exchange run by Client::Repair.
struct RepairExchange {
  NodeId peer = 0;
  Status status;          // The exchange's first failure; OK when every step succeeded.
  bool complete = false;  // Every range the two nodes share was reconciled.
  uint64_t ranges_compared = 0;
  uint64_t ranges_out_of_sync = 0;
  uint64_t keys_pushed = 0;  // Newer versions this node sent that the peer applied.
  uint64_t keys_pulled = 0;  // Newer versions of the peer this node applied.
  uint64_t bytes_exchanged = 0;
};

// What one node's repair round did: one exchange per live peer it shares ranges with.
struct RepairReport {
  NodeId node_id = 0;
  std::vector<RepairExchange> exchanges;
};

// A connection to a dialkv cluster: one TCP connection per endpoint, opened on first use,
// each carrying many requests at once. The client owns one I/O thread, or runs on the
// caller's (ClientOptions::executor).
//
// Failover: a get, put, delete or ClusterStatus tries the endpoints in order, starting from the
// last one that answered, at most once each (one pass over the endpoints) and never past its
// deadline. (The fault-injection calls never fail over: see below.) It moves on to the next
// endpoint only when that is safe:
//   - the endpoint cannot be connected to, or the request could not be sent: every request;
//   - the connection is lost after the request was sent: AP gets, puts and deletes, CP gets,
//     and ClusterStatus. A CP put or delete is not resent (it may have been applied, and a
//     resend could apply it again after a later write) and returns kUnknown;
//   - the node answers kUnavailable (definitely not applied): every request.
// Any other status the node answers is returned as it is and not retried; in particular a
// write answered kUnknown or kTimeout may have been applied. An AP write resent after a lost
// connection that then fails returns kUnknown, since the first attempt may have applied it.
// When every endpoint was tried, the kUnavailable message names each with what went wrong.
//
// Errors of every call: kInvalidArgument (bad option, or a request over max_frame_bytes),
// kUnavailable (every endpoint unreachable or answering kUnavailable: the message names each
// with its reason; or the client is being destroyed), kUnknown (writes, see above), kTimeout
// (reads), kOverloaded (over max_inflight_requests, or over the node's budgets of requests and
// bytes in flight: either way the request was not started, so not applied), and any status the
// cluster returns, with its message.
//
// Thread-safe: every method may be called from any number of threads at once. The sync
// calls block the calling thread until the result is known (at most the deadline plus
// reply_grace_ms); do not call them from an io thread whose progress the caller needs.
//
// Destruction closes every connection, completes every pending call (writes that were sent
// with kUnknown, everything else with kUnavailable), and joins the I/O thread (with
// ClientOptions::executor set: see there). REQUIRES: no
// call is started once destruction begins, and every coroutine returned by an Async call has
// been co_awaited (started) by then. A started Async call may still be pending: it completes
// with the error above on its caller's executor, which must outlive it.
class Client {
 public:
  // Validates the options and starts the I/O thread; connects on first use, not here.
  // Errors: kInvalidArgument naming the bad endpoint or option; kInternal when the thread
  // cannot be started.
  static Result<std::unique_ptr<Client>> Create(ClientOptions options);

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The value of `key` and its version's timestamp. kNotFound when the key was never
  // written or was deleted.
  Result<GetResult> Get(std::string_view key, const RequestOptions& options = {});

  // Writes `value` under `key`; returns the timestamp it was written with.
  Result<WriteResult> Put(std::string_view key, std::string_view value,
                          const RequestOptions& options = {});

  // Deletes `key` (writes a tombstone); returns the tombstone's timestamp.
  Result<WriteResult> Delete(std::string_view key, const RequestOptions& options = {});

  // Membership and liveness of the cluster as one node sees it: the endpoint a request would
  // start from (for a new client, the first reachable one), failing over like a read.
  // Errors: as for every call; kTimeout when the node does not answer in time.
  Result<dialkv::ClusterStatus> ClusterStatus(const RequestOptions& options = {});

  // Runs one anti-entropy round now on the node of the first endpoint (never failed over):
  // it compares digests with every live peer it shares ranges with, pushes and pulls the
  // versions that differ, then collects the tombstones it may. Returns when the round is
  // done. Errors: as for every call; kTimeout when the round outlasts the deadline (it goes
  // on in the node).
  Result<RepairReport> Repair(const RequestOptions& options = {});

  // Coroutine forms of the calls above, with the same results. They may be co_awaited from a
  // coroutine on any executor; the request runs on the client's I/O thread (or executor) and
  // the caller resumes on its own executor. Cancelling the awaiting coroutine does not cancel
  // the request: it completes by its deadline.
  asio::awaitable<Result<GetResult>> AsyncGet(std::string key, RequestOptions options = {});
  asio::awaitable<Result<WriteResult>> AsyncPut(std::string key, std::string value,
                                                RequestOptions options = {});
  asio::awaitable<Result<WriteResult>> AsyncDelete(std::string key, RequestOptions options = {});
  asio::awaitable<Result<dialkv::ClusterStatus>> AsyncClusterStatus(RequestOptions options = {});

  // Replaces the token (ClientOptions::token): every open connection presents `token` now, and
  // connections opened later present it too. Calls made after this returns are judged by the
  // new token; calls already sent, by the old one. Call it before the old token expires.
  // Errors: the first refusal of a node (kUnauthenticated, naming its endpoint; that
  // connection then has no token until it reopens or a later SetToken succeeds); kUnavailable
  // or kTimeout when an open connection failed or did not answer (it presents the new token
  // when it reopens).
  Status SetToken(std::string token, const RequestOptions& options = {});

  // ---- Fault injection and inspection (admin.h) ----
  // Each of these is about ONE node: it goes only to the first endpoint of
  // ClientOptions::endpoints and is never failed over to another, so a fault meant for one
  // node cannot land on another. To reach every node, use one client per node.
  // Errors: the node's status (kPermissionDenied when it was started without
  // --enable-fault-injection, kInvalidArgument for a patch it refuses, ...); kUnavailable when
  // the endpoint cannot be reached, or the connection was lost before a read (GetFaults,
  // ReadLocal) was answered; kTimeout when a read got no answer in time; kUnknown when a change
  // (SetFaults, ClearFaults, SetClockOffset) was sent but got no answer (deadline passed or
  // connection lost): it may have been applied. Every change sets absolute values, so sending
  // it again is safe. On success each returns the node's state after the request.

  // Applies `patches` in order (each peer at most once) and, when `seed` is set, reseeds the
  // node's fault injector. Refused as a whole, changing nothing, with kInvalidArgument when a
  // peer is not another member of the cluster or a value is out of range (LinkFaultsPatch).
  Result<FaultState> SetFaults(const std::vector<LinkFaultsPatch>& patches,
                               std::optional<uint64_t> seed = std::nullopt,
                               const RequestOptions& options = {});

  // Switches the node's test-only bugs (admin.h, BugSwitches) on or off. Never on a cluster
  // whose data matters: each one breaks linearizability on purpose.
  Result<FaultState> SetBugSwitches(const BugSwitches& switches,
                                    const RequestOptions& options = {});

  // Heals every link of the node, sets its clock offset back to 0, turns its test-only bugs
  // off and ends any disk fault.
  Result<FaultState> ClearFaults(const RequestOptions& options = {});

  // The node's faults, unchanged. Its node_id tells which node the endpoint is.
  Result<FaultState> GetFaults(const RequestOptions& options = {});

  // Skews the wall clock under the node's hybrid logical clock by `offset_ms` (negative: behind;
  // at most one hour either way, else kInvalidArgument), to test last-writer-wins under skew.
  // Replaces any earlier offset. The node's failure detection keeps the true clock.
  Result<FaultState> SetClockOffset(int64_t offset_ms, const RequestOptions& options = {});

  // Makes the node's storage fail every write as a full or failing disk would (admin.h,
  // DiskFault), or ends that with DiskFault::kNone. Replaces any earlier disk fault.
  Result<FaultState> SetDiskFault(DiskFault fault, const RequestOptions& options = {});

  // The node's own stored version of `key` (a tombstone too), read without a quorum and
  // without repair. kNotFound when the node holds no version of the key.
  Result<LocalVersion> ReadLocal(std::string_view key, const RequestOptions& options = {});

  // Coroutine forms of five of the calls above, as for AsyncGet.
  asio::awaitable<Result<FaultState>> AsyncSetFaults(const std::vector<LinkFaultsPatch>& patches,
                                                     std::optional<uint64_t> seed = std::nullopt,
                                                     RequestOptions options = {});
  asio::awaitable<Result<FaultState>> AsyncClearFaults(RequestOptions options = {});
  asio::awaitable<Result<FaultState>> AsyncGetFaults(RequestOptions options = {});
  asio::awaitable<Result<FaultState>> AsyncSetClockOffset(int64_t offset_ms,
                                                          RequestOptions options = {});
  asio::awaitable<Result<LocalVersion>> AsyncReadLocal(std::string key,
                                                       RequestOptions options = {});

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dialkv
