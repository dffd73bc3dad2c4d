#include "tests/unit/client/fake_server.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <future>
#include <vector>

#include "server/net/frame.h"

namespace dialkv::client_test {
namespace {

constexpr auto kAsTuple = asio::experimental::as_tuple(asio::use_awaitable);

void SetStatus(Code code, const std::string& message, v1::Status* out) {
  net::ToProto(Status(code, message), out);
}

uint32_t TimeoutOf(const v1::Envelope& request) {
  switch (request.body_case()) {
    case v1::Envelope::kGetRequest:
      return request.get_request().timeout_ms();
    case v1::Envelope::kPutRequest:
      return request.put_request().timeout_ms();
    case v1::Envelope::kDeleteRequest:
      return request.delete_request().timeout_ms();
    default:
      return 0;
  }
}

}  // namespace

FakeServer::FakeServer(Behavior behavior, size_t batch)
    : behavior_(behavior),
      batch_(batch),
      acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, Accept(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

FakeServer::~FakeServer() {
  io_.stop();
  thread_.join();
}

void FakeServer::CloseConnections() {
  std::promise<void> done;
  asio::post(io_, [this, &done] {
    for (auto& weak : sockets_) {
      if (auto socket = weak.lock()) {
        asio::error_code ignored;
        socket->close(ignored);
      }
    }
    done.set_value();
  });
  done.get_future().wait();
}

v1::Envelope FakeServer::Answer(const v1::Envelope& request) {
  v1::Envelope reply;
  reply.set_id(request.id());
  switch (request.body_case()) {
    case v1::Envelope::kGetRequest: {
      const std::string& key = request.get_request().key();
      if (key == "overloaded") {
        SetStatus(Code::kOverloaded, "node is overloaded; retry later",
                  reply.mutable_error_reply()->mutable_status());
        break;
      }
      v1::GetReply* get = reply.mutable_get_reply();
      if (key == "missing") {
        SetStatus(Code::kNotFound, "key not found", get->mutable_status());
      } else if (key == "bad") {
        SetStatus(Code::kInvalidArgument, "key is bad", get->mutable_status());
      } else {
        get->set_value("value-of-" + key);
        net::ToProto(Timestamp{kGetHlc, kGetNode}, get->mutable_timestamp());
      }
      break;
    }
    case v1::Envelope::kPutRequest: {
      v1::PutReply* put = reply.mutable_put_reply();
      if (request.put_request().key() == "bad") {
        SetStatus(Code::kInvalidArgument, "key is bad", put->mutable_status());
      } else {
        net::ToProto(Timestamp{kPutHlc, kPutNode}, put->mutable_timestamp());
      }
      break;
    }
    case v1::Envelope::kDeleteRequest:
      net::ToProto(Timestamp{kDeleteHlc, kDeleteNode},
                   reply.mutable_delete_reply()->mutable_timestamp());
      break;
    default:
      SetStatus(Code::kInvalidArgument, "not a request",
                reply.mutable_error_reply()->mutable_status());
      break;
  }
  return reply;
}

void FakeServer::Record(const v1::Envelope& request) {
  ++requests_;
  if (request.has_put_request()) ++puts_;
  last_timeout_ms_ = TimeoutOf(request);
}

asio::awaitable<void> FakeServer::Accept() {
  for (;;) {
    auto socket = std::make_shared<asio::ip::tcp::socket>(io_);
    auto [ec] = co_await acceptor_.async_accept(*socket, kAsTuple);
    if (ec) co_return;
    ++connections_;
    sockets_.push_back(socket);
    asio::co_spawn(io_, Serve(socket), asio::detached);
  }
}

asio::awaitable<void> FakeServer::Serve(std::shared_ptr<asio::ip::tcp::socket> socket) {
  std::string body;
  std::string out;
  std::vector<v1::Envelope> held;
  for (;;) {
    if (!(co_await net::ReadFrame(*socket, net::kDefaultMaxFrameBytes, &body)).ok()) co_return;
    v1::Envelope request;
    if (!net::ParseEnvelope(body, &request).ok()) co_return;
    Record(request);
    out.clear();
    switch (behavior_) {
      case Behavior::kAnswer:
        net::AppendFrame(Answer(request), &out);
        break;
      case Behavior::kReverseBatches:
        held.push_back(std::move(request));
        if (held.size() > max_pending_) max_pending_ = held.size();
        if (held.size() >= batch_) {
          for (auto it = held.rbegin(); it != held.rend(); ++it)
            net::AppendFrame(Answer(*it), &out);
          held.clear();
        }
        break;
      case Behavior::kDropConnection: {
        asio::error_code ignored;
        socket->close(ignored);
        co_return;
      }
      case Behavior::kSilent:
        break;
    }
    if (out.empty()) continue;
    auto [ec, n] = co_await asio::async_write(*socket, asio::buffer(out), kAsTuple);
    if (ec) co_return;
  }
}

uint16_t ClosedPort() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io,
                                   asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();  // Closed when `acceptor` goes out of scope.
}

}  // namespace dialkv::client_test
