#include "server/net/peer_transport.h"

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <cctype>
#include <chrono>
#include <exception>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "server/common/log_limiter.h"
#include "server/common/logging.h"
#include "server/net/endpoint.h"
#include "server/net/frame_connection.h"
#include "server/net/listener.h"
#include "server/net/peer_header.h"

namespace dialkv::net {
namespace {

using std::chrono::milliseconds;

// Replies beyond the skew guard: at most one log line per this interval and peer.
constexpr milliseconds kSkewLogInterval{1000};

Status StoppedStatus() { return Status::Unavailable("peer transport stopped"); }

// "unavailable", "permission_denied": the outcome label of a call that failed with `code`.
std::string OutcomeLabel(Code code) {
  std::string label(CodeName(code));
  for (char& c : label) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return label;
}

// What a link's coroutine hands back across the hop: co_spawn needs a default-constructible
// result, which Result<> is not.
struct Outcome {
  Status status;       // OK: `reply` is the answer.
  v1::Envelope reply;  // Meaningful only when status is OK.
};

}  // namespace

// Everything about one peer: its connection and the state of calls to it. Lives on one
// io_context of the pool: every member is used only there (by Run(), Close() and the
// connection's coroutines), except the immutable ones.
class PeerTransport::Link {
 public:
  Link(PeerTransport* transport, NodeId peer, asio::any_io_executor executor, Endpoint endpoint,
       Connection::Options connection_options, metrics::CounterFamily* calls)
      : transport_(transport),
        peer_(peer),
        executor_(std::move(executor)),
        label_("peer " + std::to_string(peer) + " (" + endpoint.name + ")"),
        connection_(executor_, std::move(endpoint), std::move(connection_options)),
        calls_(calls) {}

  const asio::any_io_executor& executor() const { return executor_; }

  // Counted when set (the transport has a registry): batches sent, and the requests in them.
  void set_batch_counters(metrics::Counter* batches, metrics::Counter* batched) {
    batches_ = batches;
    batched_ = batched;
  }

  // One call, from the hop onto this link's io_context to the checked reply.
  asio::awaitable<Outcome> Run(v1::Envelope request, Deadline deadline);

  bool serves_batches() const { return serves_batches_.load(std::memory_order_relaxed); }

  void Close() {
    connection_.Close(StoppedStatus());
    FailQueued(StoppedStatus());
  }
  void ResetBackoff() { connection_.ResetBackoff(); }

  // Counts a call awaiting its reply, unless `max` (0: no bound) are already: any thread.
  [[nodiscard]] bool TryEnter(uint32_t max) {
    if (outstanding_.fetch_add(1, std::memory_order_relaxed) < max || max == 0) return true;
    outstanding_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  void Leave() { outstanding_.fetch_sub(1, std::memory_order_relaxed); }
  // Counts a call refused by TryEnter in dialkv_peer_calls_total: any thread.
  void CountRefused() {
    asio::post(executor_, [this] { Count(Code::kOverloaded); });
  }

 private:
  asio::awaitable<Result<v1::Envelope>> Exchange(v1::Envelope request, Deadline deadline);
  asio::awaitable<Result<v1::Envelope>> RoundTrip(v1::Envelope& request, size_t bytes,
                                                  Deadline deadline, uint64_t timeout_ms);
  // Connects if need be, sends the request (alone, or in the next batch) and waits for its
  // reply: the network part of RoundTrip. `bytes`: the request's size without its header.
  asio::awaitable<Result<v1::Envelope>> Send(v1::Envelope& request, size_t bytes, Deadline deadline,
                                             uint64_t timeout_ms);
  // Whether `request` goes in a batch: the peer serves batches on the open connection and the
  // request is one a batch carries.
  bool Batches(const v1::Envelope& request) const;
  // Adds `request` (`bytes` long) and `call` to the batch of this pass, and makes sure a
  // flush follows once the handlers ready now have run.
  void Enqueue(v1::Envelope request, size_t bytes, net::Call* call);
  // Sends the batch queued so far: its late requests are dropped (not sent), a lone request
  // goes alone, the rest as one PeerBatch.
  void Flush();
  // Takes `id` out of the batch not yet sent, if it is there (its caller stops waiting).
  void Unqueue(uint64_t id);
  // Wakes `call`, whose request was not sent, with `why`.
  static void NotSent(net::Call* call, Status why);
  // Fails every request of the batch not yet sent with `why` (not sent).
  void FailQueued(const Status& why);
  asio::awaitable<void> SleepUntil(Deadline until);
  Status NoReply(uint64_t timeout_ms) const;
  Result<v1::Envelope> CheckReply(v1::Envelope reply);
  void Count(Code code);

  PeerTransport* const transport_;  // Outlives the link.
  const NodeId peer_;
  const asio::any_io_executor executor_;
  const std::string label_;  // "peer 2 (10.0.0.2:7380)", for messages.
  Connection connection_;
  uint64_t next_id_ = 1;                 // 0 is the id of replies that belong to no request.
  metrics::CounterFamily* const calls_;  // Null without a registry.
  std::array<metrics::Counter*, kNumCodes> call_counters_{};  // By outcome, looked up once.
  LogLimiter skew_log_{kSkewLogInterval};
  std::atomic<uint32_t> outstanding_{0};  // Calls between TryEnter and Leave.
  // The batch of this pass: an envelope whose body is a peer_batch_request, and the calls
  // waiting for its items, in the same order.
  v1::Envelope batch_;
  std::vector<Connection::BatchedCall> batch_calls_;
  size_t batch_bytes_ = 0;     // Serialized size of the items so far, framing included.
  bool flush_posted_ = false;  // A Flush() is queued on the executor.
  // Connection::sessions() of the connection on which the peer's replies said it serves
  // batches (0: none yet). A new connection starts unbatched until its first reply says so.
  uint64_t batches_session_ = 0;
  std::atomic<bool> serves_batches_{false};  // What the peer's latest reply said; any thread.
  metrics::Counter* batches_ = nullptr;
  metrics::Counter* batched_ = nullptr;
};

namespace {

// Requests a batch carries: those whose replies are small, so that a batch's reply (one frame)
// stays far below the frame limit however many it carries: replica writes, the timestamp reads
// of CP writes, and gossip. A read of a value goes alone (a few reads of large values would
// make a reply over the limit, refused as a whole), and so do anti-entropy exchanges: they are
// few, large, and slow to serve, and a batch is answered only once every item was served.
bool Batchable(const v1::Envelope& request) {
  switch (request.body_case()) {
    case v1::Envelope::kReplicaReadRequest:
      return request.replica_read_request().timestamp_only();
    case v1::Envelope::kReplicaWriteRequest:
    case v1::Envelope::kGossipRequest:
      return true;
    default:
      return false;
  }
}

// Bytes a PeerHeader of `cluster_name` takes at most in an envelope: the name, a node id and an
// hlc (varints of at most 5 and 10 bytes) and the tags and lengths around them.
size_t HeaderBytes(const std::string& cluster_name) { return cluster_name.size() + 32; }

// Bytes an item of `bytes` takes in a PeerBatch: its tag and length.
constexpr size_t kItemOverheadBytes = 1 + 5;

}  // namespace

asio::awaitable<Outcome> PeerTransport::Link::Run(v1::Envelope request, Deadline deadline) {
  Result<v1::Envelope> result = co_await Exchange(std::move(request), deadline);
  Count(result.code());
  if (!result.ok()) co_return Outcome{result.status(), {}};
  co_return Outcome{Status::Ok(), std::move(result).value()};
}

asio::awaitable<Result<v1::Envelope>> PeerTransport::Link::Exchange(v1::Envelope request,
                                                                    Deadline deadline) {
  if (transport_->stopped_.load()) co_return StoppedStatus();
  const auto start = SteadyClock::now();
  if (start >= deadline) {
    co_return Status::Unavailable("the deadline passed before the request could be sent to " +
                                  label_ + "; it was not sent");
  }
  const uint64_t timeout_ms =
      static_cast<uint64_t>(std::chrono::ceil<milliseconds>(deadline - start).count());
  const Options& options = transport_->options_;
  request.set_id(next_id_++);
  // The header is stamped when the request goes out alone (a batch's stands for its items).
  const size_t bytes = request.ByteSizeLong();
  if (bytes + HeaderBytes(options.cluster_name) > options.max_frame_bytes) {
    co_return Status::InvalidArgument("request to " + label_ + " of " +
                                      std::to_string(bytes + HeaderBytes(options.cluster_name)) +
                                      " bytes is over the frame limit of " +
                                      std::to_string(options.max_frame_bytes) +
                                      " bytes; it was not sent");
  }
  Result<v1::Envelope> reply = co_await RoundTrip(request, bytes, deadline, timeout_ms);
  if (!reply.ok()) co_return reply.status();
  co_return CheckReply(std::move(reply).value());
}

// The one place every outbound peer request and every inbound reply of this node passes
// (docs/fault-injection.md): the fault injector judges the request (lost, or held for its
// delay) and then the reply (lost), and Send() does the rest. Returns the raw reply, unchecked.
asio::awaitable<Result<v1::Envelope>> PeerTransport::Link::RoundTrip(v1::Envelope& request,
                                                                     size_t bytes,
                                                                     Deadline deadline,
                                                                     uint64_t timeout_ms) {
  FaultInjector* const faults = transport_->options_.faults;
  if (faults != nullptr) {
    // A lost request looks to the caller like any unanswered one. A request held past the
    // deadline is never sent.
    const FaultVerdict verdict = faults->Judge(peer_, Direction::kOut);
    const Deadline send_at = SteadyClock::now() + verdict.delay;
    if (verdict.lost || send_at >= deadline) {
      co_await SleepUntil(deadline);
      co_return NoReply(timeout_ms);
    }
    if (verdict.delay.count() > 0) co_await SleepUntil(send_at);
    if (transport_->stopped_.load()) co_return StoppedStatus();
  }
  Result<v1::Envelope> reply = co_await Send(request, bytes, deadline, timeout_ms);
  if (faults != nullptr && reply.ok() && faults->Judge(peer_, Direction::kIn).lost) {
    co_await SleepUntil(deadline);
    co_return NoReply(timeout_ms);
  }
  co_return reply;
}

asio::awaitable<void> PeerTransport::Link::SleepUntil(Deadline until) {
  asio::steady_timer timer(executor_, until);
  co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
}

Status PeerTransport::Link::NoReply(uint64_t timeout_ms) const {
  return Status::Timeout(label_ + " sent no reply within the " + std::to_string(timeout_ms) +
                         " ms deadline; the request may have been delivered");
}

asio::awaitable<Result<v1::Envelope>> PeerTransport::Link::Send(v1::Envelope& request, size_t bytes,
                                                                Deadline deadline,
                                                                uint64_t timeout_ms) {
  net::Call call(executor_);
  call.waiter.set_deadline(deadline);
  const Status connected = co_await connection_.Connect(&call.waiter);
  if (transport_->stopped_.load()) co_return StoppedStatus();
  if (connected.code() == Code::kTimeout) {
    co_return Status::Unavailable("the " + std::to_string(timeout_ms) +
                                  " ms deadline passed while connecting to " + label_ +
                                  "; the request was not sent");
  }
  if (!connected.ok()) {
    co_return Status::Unavailable(label_ + " unreachable: " + connected.message());
  }

  const uint64_t id = request.id();
  if (Batches(request)) {
    Enqueue(std::move(request), bytes, &call);
  } else {
    const Options& options = transport_->options_;
    StampPeerHeader(&request, options.cluster_name, options.self, transport_->hlc_);
    if (const Status sent = connection_.Send(id, request, &call); !sent.ok()) {
      co_return Status::Unavailable(label_ + " unreachable: " + sent.message());  // Not sent.
    }
  }
  const bool woken = co_await call.waiter.Wait();
  if (call.reply.has_value()) co_return std::move(*call.reply);
  if (!woken) {
    Unqueue(id);
    connection_.Forget(id);  // A late reply is dropped.
    co_return NoReply(timeout_ms);
  }
  if (call.not_sent) co_return std::move(call.lost);
  if (transport_->stopped_.load()) {
    co_return Status::Unavailable(StoppedStatus().message() +
                                  " while waiting for a reply; the request may have been "
                                  "delivered to " +
                                  label_);
  }
  co_return Status::Unavailable("connection to " + label_ +
                                " lost after the request was sent; it may have been delivered (" +
                                call.lost.message() + ")");
}

bool PeerTransport::Link::Batches(const v1::Envelope& request) const {
  return batches_session_ != 0 && batches_session_ == connection_.sessions() && Batchable(request);
}

void PeerTransport::Link::Enqueue(v1::Envelope request, size_t bytes, net::Call* call) {
  const size_t item_bytes = bytes + kItemOverheadBytes;
  const size_t limit = transport_->options_.max_frame_bytes;
  const size_t envelope_bytes = HeaderBytes(transport_->options_.cluster_name) + 16;
  if (!batch_calls_.empty() && envelope_bytes + batch_bytes_ + item_bytes > limit) Flush();
  call->waiter.Arm();  // Its caller waits from now on; Flush() or the reply wakes it.
  const uint64_t id = request.id();
  *batch_.mutable_peer_batch_request()->add_items() = std::move(request);
  batch_calls_.push_back({id, call});
  batch_bytes_ += item_bytes;
  if (flush_posted_) return;
  flush_posted_ = true;
  // Handlers ready now (the other replica calls of the client requests just read) add their
  // requests first.
  asio::post(executor_, [this] { Flush(); });
}

void PeerTransport::Link::Flush() {
  flush_posted_ = false;
  if (batch_calls_.empty()) return;
  std::vector<Connection::BatchedCall> calls = std::exchange(batch_calls_, {});
  batch_bytes_ = 0;
  auto& items = *batch_.mutable_peer_batch_request()->mutable_items();
  // A request whose deadline passed while it waited is not sent.
  const auto now = SteadyClock::now();
  for (size_t i = calls.size(); i-- > 0;) {
    if (calls[i].call->waiter.deadline() > now) continue;
    NotSent(calls[i].call, Status::Unavailable("the deadline passed before the request could be "
                                               "sent to " +
                                               label_ + "; it was not sent"));
    items.DeleteSubrange(static_cast<int>(i), 1);
    calls.erase(calls.begin() + static_cast<ptrdiff_t>(i));
  }
  if (calls.empty()) {
    batch_.Clear();
    return;
  }
  const Options& options = transport_->options_;
  Status sent;
  if (calls.size() == 1) {
    v1::Envelope single = std::move(*items.Mutable(0));
    batch_.Clear();
    StampPeerHeader(&single, options.cluster_name, options.self, transport_->hlc_);
    sent = connection_.Send(calls[0].id, single, calls[0].call);
  } else {
    batch_.set_id(next_id_++);
    StampPeerHeader(&batch_, options.cluster_name, options.self, transport_->hlc_);
    sent = connection_.SendBatch(batch_.id(), batch_, calls);
    batch_.Clear();
    if (sent.ok() && batches_ != nullptr) {
      batches_->Inc();
      batched_->Inc(calls.size());
    }
  }
  if (!sent.ok()) {
    for (const Connection::BatchedCall& batched : calls) {
      NotSent(batched.call, Status::Unavailable(label_ + " unreachable: " + sent.message()));
    }
  }
}

void PeerTransport::Link::Unqueue(uint64_t id) {
  for (size_t i = 0; i < batch_calls_.size(); ++i) {
    if (batch_calls_[i].id != id) continue;
    batch_.mutable_peer_batch_request()->mutable_items()->DeleteSubrange(static_cast<int>(i), 1);
    batch_calls_.erase(batch_calls_.begin() + static_cast<ptrdiff_t>(i));
    return;
  }
}

void PeerTransport::Link::NotSent(net::Call* call, Status why) {
  call->lost = std::move(why);
  call->not_sent = true;
  call->waiter.Wake();
}

void PeerTransport::Link::FailQueued(const Status& why) {
  for (const Connection::BatchedCall& batched : std::exchange(batch_calls_, {})) {
    NotSent(batched.call, why);
  }
  batch_.Clear();
  batch_bytes_ = 0;
}

Result<v1::Envelope> PeerTransport::Link::CheckReply(v1::Envelope reply) {
  const Options& options = transport_->options_;
  if (reply.has_peer()) {
    const v1::PeerHeader& header = reply.peer();
    if (header.cluster_name() != options.cluster_name) {
      return Status::PermissionDenied(label_ + " answered for cluster \"" + header.cluster_name() +
                                      "\", but this node is in cluster \"" + options.cluster_name +
                                      "\": check --peers and --cluster-name");
    }
    if (header.node_id() != peer_) {
      return Status::PermissionDenied(
          label_ + " answered as node " + std::to_string(header.node_id()) +
          ": --peers names the wrong address for node " + std::to_string(peer_));
    }
    // Most likely from the connection open now; if not, a batch refused by a node of an older
    // release costs the calls of one connection, which then starts unbatched again.
    if (header.serves_batches()) batches_session_ = connection_.sessions();
    serves_batches_.store(header.serves_batches(), std::memory_order_relaxed);
    if (const Status folded = transport_->hlc_.Observe(header.hlc()); !folded.ok()) {
      uint64_t suppressed = 0;
      if (skew_log_.Allow(&suppressed)) {
        Log(Subsystem::kNet)
            .warn("node={} peer={} reply hlc not folded into this node's clock: {}{}", options.self,
                  peer_, folded.message(), LogLimiter::SuppressedNote(suppressed));
      }
    }
  }
  if (reply.has_error_reply()) {
    const Status refused = FromProto(reply.error_reply().status());
    if (refused.ok()) return Status::Internal(label_ + " sent an error reply without an error");
    return Status(refused.code(), label_ + " refused the request: " + refused.message());
  }
  if (!reply.has_peer()) {
    return Status::Internal(label_ + " answered without a peer header: is " + connection_.name() +
                            " its peer port?");
  }
  return reply;
}

void PeerTransport::Link::Count(Code code) {
  if (calls_ == nullptr) return;
  metrics::Counter*& counter = call_counters_[static_cast<size_t>(code)];
  if (counter == nullptr) {
    counter = &calls_->WithLabels({std::to_string(peer_), OutcomeLabel(code)});
  }
  counter->Inc();
}

PeerTransport::PeerTransport(HybridLogicalClock& hlc, Options options)
    : hlc_(hlc), options_(std::move(options)) {}

// The connections' coroutines have finished or will never run again: the pool's threads
// were joined (see the header).
PeerTransport::~PeerTransport() = default;

Result<std::unique_ptr<PeerTransport>> PeerTransport::Create(IoContextPool& pool,
                                                             HybridLogicalClock& hlc,
                                                             Options options,
                                                             metrics::Registry* metrics) {
  if (options.cluster_name.empty()) {
    return Status::InvalidArgument("peer transport needs a cluster name (--cluster-name)");
  }
  if (options.peers.count(options.self) > 0) {
    return Status::InvalidArgument("peer transport of node " + std::to_string(options.self) +
                                   " lists itself among its peers; pass the other nodes only");
  }
  if (options.connect_timeout_ms == 0 || options.max_frame_bytes == 0) {
    return Status::InvalidArgument(
        "peer transport needs connect_timeout_ms > 0 and max_frame_bytes > 0");
  }
  if (options.backoff_initial_ms > options.backoff_max_ms) {
    return Status::InvalidArgument(
        "peer transport backoff_initial_ms (" + std::to_string(options.backoff_initial_ms) +
        ") is over backoff_max_ms (" + std::to_string(options.backoff_max_ms) + ")");
  }
  std::map<NodeId, Endpoint> endpoints;
  for (const auto& [id, address] : options.peers) {
    Result<Endpoint> endpoint = ParseEndpoint(address);
    if (!endpoint.ok()) {
      return Status::InvalidArgument("address of peer " + std::to_string(id) +
                                     " in --peers: " + endpoint.status().message());
    }
    endpoints.emplace(id, std::move(endpoint).value());
  }

  std::unique_ptr<PeerTransport> transport(new PeerTransport(hlc, std::move(options)));
  metrics::CounterFamily* calls = nullptr;
  metrics::CounterFamily* attempts = nullptr;
  metrics::CounterFamily* failures = nullptr;
  metrics::CounterFamily* batches = nullptr;
  metrics::CounterFamily* batched = nullptr;
  if (metrics != nullptr) {
    batches = &metrics->AddCounter("dialkv_peer_batches_total",
                                   "Frames carrying several requests to a peer (a PeerBatch), by "
                                   "peer.",
                                   {"peer"});
    batched = &metrics->AddCounter("dialkv_peer_batched_requests_total",
                                   "Requests sent to a peer inside batches, by peer; divided by "
                                   "dialkv_peer_batches_total, the mean batch size.",
                                   {"peer"});
    calls = &metrics->AddCounter("dialkv_peer_calls_total",
                                 "Requests this node sent to peers, by peer and outcome (ok, or "
                                 "the error the call returned).",
                                 {"peer", "outcome"});
    attempts = &metrics->AddCounter("dialkv_peer_connect_attempts_total",
                                    "Connection attempts to peers' peer ports, by peer.", {"peer"});
    failures =
        &metrics->AddCounter("dialkv_peer_connect_failures_total",
                             "Failed connection attempts to peers' peer ports, by peer.", {"peer"});
  }
  size_t next_context = 0;
  for (auto& [id, endpoint] : endpoints) {
    const Options& o = transport->options_;
    Connection::Options connection_options;
    connection_options.connect_timeout_ms = o.connect_timeout_ms;
    connection_options.max_frame_bytes = o.max_frame_bytes;
    connection_options.backoff_initial_ms = o.backoff_initial_ms;
    connection_options.backoff_max_ms = o.backoff_max_ms;
    connection_options.unacked_timeout_ms = o.unacked_timeout_ms;
    connection_options.log_subsystem = Subsystem::kNet;
    connection_options.tls = o.tls;
    if (const PeerAuthenticator* auth = o.authenticator; auth != nullptr) {
      const NodeId peer = id;
      connection_options.handshake = [auth, peer](Stream& stream, FrameReader& reader) {
        return auth->Dial(stream, reader, peer);
      };
    }
    if (metrics != nullptr) {
      connection_options.connect_attempts = &attempts->WithLabels({std::to_string(id)});
      connection_options.connect_failures = &failures->WithLabels({std::to_string(id)});
    }
    // Peers are spread over the io_contexts; each stays on its own for the transport's life.
    asio::any_io_executor executor = pool.At(next_context++ % pool.size()).get_executor();
    auto link = std::make_unique<Link>(transport.get(), id, std::move(executor),
                                       std::move(endpoint), std::move(connection_options), calls);
    if (metrics != nullptr) {
      link->set_batch_counters(&batches->WithLabels({std::to_string(id)}),
                               &batched->WithLabels({std::to_string(id)}));
    }
    transport->links_.emplace(id, std::move(link));
  }
  return transport;
}

asio::awaitable<Result<v1::Envelope>> PeerTransport::Call(NodeId peer, v1::Envelope request,
                                                          Deadline deadline) {
  const auto it = links_.find(peer);
  if (it == links_.end()) {
    co_return Status::Unavailable(
        peer == options_.self
            ? "peer " + std::to_string(peer) + " is this node; it cannot call itself"
            : "peer " + std::to_string(peer) + " is not in --peers of node " +
                  std::to_string(options_.self));
  }
  if (stopped_.load()) co_return StoppedStatus();
  Link* link = it->second.get();
  if (!link->TryEnter(options_.max_calls_per_peer)) {
    link->CountRefused();
    co_return Status::Overloaded("peer " + std::to_string(peer) + " has " +
                                 std::to_string(options_.max_calls_per_peer) +
                                 " calls awaiting replies (max_calls_per_peer); not sent");
  }
  // Hop to the link's io_context and back to ours (use_awaitable resumes on the caller's
  // executor), unless the caller runs there already (always with one io thread): then the
  // call runs inline, without a coroutine spawned and a post each way. The operation is a named
  // local (docs/architecture.md, coroutine rules).
  asio::awaitable<Outcome> operation = link->Run(std::move(request), deadline);
  std::exception_ptr error;
  Outcome outcome;
  if (co_await asio::this_coro::executor == link->executor()) {
    try {
      outcome = co_await std::move(operation);
    } catch (...) {
      error = std::current_exception();
    }
  } else {
    std::tie(error, outcome) = co_await asio::co_spawn(
        link->executor(), std::move(operation), asio::experimental::as_tuple(asio::use_awaitable));
  }
  // Not in a destructor: a call still pending when the pool is destroyed has its frame
  // destroyed after the transport (see the header's lifetime rule), and must not touch it.
  link->Leave();
  if (error) {
    Log(Subsystem::kNet)
        .error("node={} peer={} call failed: {}", options_.self, peer, DescribeException(error));
    co_return Status::Internal("call to peer " + std::to_string(peer) +
                               " failed: " + DescribeException(error));
  }
  if (!outcome.status.ok()) co_return std::move(outcome.status);
  co_return std::move(outcome.reply);
}

bool PeerTransport::ServesBatches(NodeId peer) const {
  const auto it = links_.find(peer);
  return it != links_.end() && it->second->serves_batches();
}

void PeerTransport::PeerIsBack(NodeId peer) {
  const auto it = links_.find(peer);
  if (it == links_.end()) return;
  Link* target = it->second.get();
  asio::post(target->executor(), [target] { target->ResetBackoff(); });
}

void PeerTransport::Stop() {
  if (stopped_.exchange(true)) return;
  for (const auto& [id, link] : links_) {
    Link* target = link.get();
    asio::post(target->executor(), [target] { target->Close(); });
  }
}

}  // namespace dialkv::net
