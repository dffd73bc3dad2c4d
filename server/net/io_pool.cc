#include "server/net/io_pool.h"

#include <asio/post.hpp>
#include <exception>

#include "server/common/check.h"
#include "server/common/logging.h"

namespace dialkv::net {
namespace {

// Runs `context` until it is stopped. Our completion handlers catch what they can throw;
// should one escape anyway, it is logged and the thread keeps serving the other connections
// of its io_context rather than taking the node down.
void RunContext(asio::io_context* context, size_t index) {
  for (;;) {
    try {
      context->run();
      return;
    } catch (const std::exception& e) {
      Log(Subsystem::kNet)
          .error("io thread {} caught an exception that escaped a handler: {}", index, e.what());
    } catch (...) {
      Log(Subsystem::kNet)
          .error("io thread {} caught a non-standard exception from a handler", index);
    }
  }
}

}  // namespace

IoContextPool::IoContextPool(size_t threads) {
  DIALKV_CHECK(threads >= 1);
  contexts_.reserve(threads);
  guards_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) {
    // Concurrency hint 1: exactly one thread runs each io_context (posting from others is
    // still safe).
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.emplace_back(contexts_.back()->get_executor());
  }
}

IoContextPool::~IoContextPool() {
  Stop();
  Join();
}

asio::io_context& IoContextPool::Next() {
  return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

void IoContextPool::Start() {
  if (!threads_.empty()) return;
  threads_.reserve(contexts_.size());
  for (size_t i = 0; i < contexts_.size(); ++i) {
    threads_.emplace_back(RunContext, contexts_[i].get(), i);
  }
}

void IoContextPool::Stop() {
  for (auto& guard : guards_) guard.reset();
  // Posted rather than called: handlers already queued (a server's Stop() closing its
  // connections, say) run before run() returns.
  for (auto& context : contexts_) {
    asio::post(*context, [c = context.get()] { c->stop(); });
  }
}

void IoContextPool::Join() {
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

}  // namespace dialkv::net
