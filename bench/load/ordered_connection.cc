#include "bench/load/ordered_connection.h"

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>

#include "server/net/endpoint.h"

namespace dialkv::bench {
namespace {

constexpr auto kAsTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunkBytes = 64 << 10;
// A request to a connection that just failed waits this long before trying to reconnect, so a
// dead endpoint does not make the workers spin.
constexpr std::chrono::milliseconds kReconnectPause{20};

}  // namespace

OrderedConnection::OrderedConnection(const asio::any_io_executor& executor, std::string endpoint,
                                     uint32_t timeout_ms)
    : executor_(executor),
      endpoint_(std::move(endpoint)),
      timeout_ms_(timeout_ms),
      socket_(executor) {}

asio::awaitable<Status> OrderedConnection::Open() {
  if (open_) co_return Status::Ok();
  if (connecting_) co_return Status::Unavailable(endpoint_ + ": connecting");
  Result<net::Endpoint> parsed = net::ParseEndpoint(endpoint_);
  if (!parsed.ok()) co_return parsed.status();
  asio::error_code ec;
  const asio::ip::address address = asio::ip::make_address(parsed->host, ec);
  if (ec) co_return Status::InvalidArgument(endpoint_ + ": the host must be an IP address");
  connecting_ = true;
  asio::ip::tcp::socket socket(executor_);
  auto [connect_ec] = co_await socket.async_connect({address, parsed->port}, kAsTuple);
  connecting_ = false;
  if (connect_ec) co_return Status::Unavailable(endpoint_ + ": " + connect_ec.message());
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  socket_ = std::move(socket);
  open_ = true;
  asio::co_spawn(executor_, ReadLoop(), asio::detached);
  co_return Status::Ok();
}

void OrderedConnection::Close() { Fail(Code::kUnavailable); }

void OrderedConnection::Fail(Code code) {
  ++generation_;
  open_ = false;
  asio::error_code ignored;
  socket_.close(ignored);
  outbox_.clear();
  for (Pending* p : std::exchange(pending_, {})) {
    if (p->code == Code::kOk) p->code = code;
    p->waiter->Wake();
  }
}

asio::awaitable<Code> OrderedConnection::RoundTrip(std::string request, int expect,
                                                   int then_expect) {
  if (!open_) {
    Status opened = co_await Open();
    if (!opened.ok()) {
      asio::steady_timer pause(executor_, kReconnectPause);
      co_await pause.async_wait(kAsTuple);
      co_return Code::kUnavailable;
    }
  }
  net::Waiter waiter(executor_);
  waiter.set_deadline(net::SteadyClock::now() + std::chrono::milliseconds(timeout_ms_));
  waiter.Arm();
  Pending pending{.waiter = &waiter,
                  .expects = {expect, then_expect},
                  .count = then_expect == kNoReply ? 1 : 2};
  pending_.push_back(&pending);
  outbox_ += request;
  if (!writing_) {
    writing_ = true;
    asio::co_spawn(executor_, WriteLoop(), asio::detached);
  }
  if (!co_await waiter.Wait()) {
    // No reply in time: the replies behind it cannot be matched any more.
    pending.code = Code::kTimeout;
    Fail(Code::kUnavailable);
  }
  co_return pending.code;
}

asio::awaitable<void> OrderedConnection::WriteLoop() {
  const uint64_t generation = generation_;
  while (generation == generation_ && !outbox_.empty()) {
    in_write_.clear();
    in_write_.swap(outbox_);
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(in_write_), kAsTuple);
    if (ec) {
      if (generation == generation_) Fail(Code::kUnavailable);
      break;
    }
  }
  writing_ = false;
}

asio::awaitable<void> OrderedConnection::ReadLoop() {
  const uint64_t generation = generation_;
  std::string buffer;
  size_t start = 0;  // Parsed up to here.
  while (generation == generation_) {
    const size_t have = buffer.size();
    buffer.resize(have + kReadChunkBytes);
    auto [ec, n] = co_await socket_.async_read_some(
        asio::buffer(buffer.data() + have, kReadChunkBytes), kAsTuple);
    if (generation != generation_) co_return;
    if (ec) {
      Fail(Code::kUnavailable);
      co_return;
    }
    buffer.resize(have + n);
    for (;;) {
      size_t consumed = 0;
      Code code = Code::kOk;
      const std::string_view in(buffer.data() + start, buffer.size() - start);
      if (pending_.empty()) {
        if (!in.empty()) Fail(Code::kInternal);  // A reply nobody asked for.
        break;
      }
      Pending* p = pending_.front();
      const Parse parse = ParseReply(in, p->expects[p->received], &consumed, &code);
      if (parse == Parse::kIncomplete) break;
      if (parse == Parse::kMalformed) {
        Fail(Code::kInternal);
        co_return;
      }
      start += consumed;
      if (p->code == Code::kOk) p->code = code;
      if (++p->received == p->count) {
        pending_.pop_front();
        p->waiter->Wake();
      }
    }
    if (generation != generation_) co_return;
    buffer.erase(0, start);
    start = 0;
  }
}

}  // namespace dialkv::bench
