#include "server/net/frame_reader.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/net/frame.h"
#include "tests/testutil/status_matchers.h"

namespace dialkv::net {
namespace {

using tcp = asio::ip::tcp;
constexpr auto kTestDeadline = std::chrono::seconds(10);

std::string Frame(const std::string& body) {
  std::string out(kFrameHeaderBytes, '\0');
  for (size_t i = 0; i < kFrameHeaderBytes; ++i) out[i] = static_cast<char>(body.size() >> (8 * i));
  return out + body;
}

// A connected pair of loopback sockets: the test writes on `writer` (blocking) and reads
// frames from `reader_socket` through a FrameReader.
class FrameReaderTest : public ::testing::Test {
 protected:
  FrameReaderTest() {
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    writer_.connect(acceptor.local_endpoint());
    acceptor.accept(reader_socket_.socket());
  }

  // The next frame's body (or its error), running the io_context until it is known.
  Result<std::string> Next(FrameReader& reader) {
    std::optional<Status> status;
    std::string body;
    asio::co_spawn(io_, Read(&reader, &reader_socket_, &status, &body), asio::detached);
    const auto limit = std::chrono::steady_clock::now() + kTestDeadline;
    while (!status.has_value() && std::chrono::steady_clock::now() < limit) {
      if (io_.stopped()) io_.restart();
      io_.run_one_for(std::chrono::milliseconds(10));
    }
    if (!status.has_value()) return Status::Timeout("no frame within the test deadline");
    if (!status->ok()) return *status;
    return body;
  }

  // Runs the io_context a little, so a pending read consumes what arrived.
  void Pump() {
    if (io_.stopped()) io_.restart();
    io_.run_for(std::chrono::milliseconds(20));
  }

  void Write(const std::string& bytes) { asio::write(writer_, asio::buffer(bytes)); }

  asio::io_context io_;
  tcp::socket writer_{io_};
  Stream reader_socket_{io_.get_executor()};

 private:
  // The pointers outlive the coroutine: Next() runs the io_context until it has finished.
  static asio::awaitable<void> Read(FrameReader* reader, Stream* socket,
                                    std::optional<Status>* status, std::string* body) {
    std::string_view view;
    Status s = co_await reader->Next(*socket, &view);
    body->assign(view);
    status->emplace(std::move(s));
  }
};

TEST_F(FrameReaderTest, ReturnsEveryFrameOfOneBurstInOrder) {
  std::string burst;
  for (int i = 0; i < 100; ++i) burst += Frame("frame " + std::to_string(i));
  Write(burst);
  FrameReader reader(kDefaultMaxFrameBytes);
  for (int i = 0; i < 100; ++i) {
    Result<std::string> body = Next(reader);
    ASSERT_OK(body);
    EXPECT_EQ(*body, "frame " + std::to_string(i));
  }
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST_F(FrameReaderTest, ReassemblesAFrameThatArrivesInPieces) {
  const std::string frame = Frame(std::string(1000, 'x')) + Frame("next");
  FrameReader reader(kDefaultMaxFrameBytes);
  Write(frame.substr(0, 2));  // Half a header.
  Write(frame.substr(2, 500));
  Pump();
  Write(frame.substr(502));
  Result<std::string> body = Next(reader);
  ASSERT_OK(body);
  EXPECT_EQ(*body, std::string(1000, 'x'));
  body = Next(reader);
  ASSERT_OK(body);
  EXPECT_EQ(*body, "next");
}

TEST_F(FrameReaderTest, FramesLargerThanTheInitialBufferArriveWhole) {
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
  std::thread writer([&] { Write(Frame(big) + Frame("small")); });
  FrameReader reader(kDefaultMaxFrameBytes);
  Result<std::string> body = Next(reader);
  Result<std::string> small = Next(reader);
  writer.join();
  ASSERT_OK(body);
  EXPECT_TRUE(*body == big);
  ASSERT_OK(small);
  EXPECT_EQ(*small, "small");
}

TEST_F(FrameReaderTest, HeaderOverTheLimitIsInvalidArgument) {
  Write(Frame(std::string(101, 'x')));
  FrameReader reader(100);
  Result<std::string> body = Next(reader);
  EXPECT_EQ(body.code(), Code::kInvalidArgument);
}

TEST_F(FrameReaderTest, CloseBetweenFramesAndMidFrameAreTold) {
  Write(Frame("whole") + Frame("cut short").substr(0, 6));
  writer_.close();
  FrameReader reader(kDefaultMaxFrameBytes);
  Result<std::string> body = Next(reader);
  ASSERT_OK(body);
  body = Next(reader);
  EXPECT_EQ(body.code(), Code::kUnavailable);
  EXPECT_NE(body.status().message().find("mid-frame"), std::string::npos);
}

TEST_F(FrameReaderTest, CloseAtAFrameBoundaryIsClosedByPeer) {
  Write(Frame("only"));
  writer_.close();
  FrameReader reader(kDefaultMaxFrameBytes);
  ASSERT_OK(Next(reader));
  Result<std::string> body = Next(reader);
  EXPECT_EQ(body.code(), Code::kUnavailable);
  EXPECT_NE(body.status().message().find("closed by peer"), std::string::npos);
}

}  // namespace
}  // namespace dialkv::net
