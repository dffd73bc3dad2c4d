#pragma once
// A pool of io_contexts, each run by exactly one thread (docs/architecture.md, "Threading
// rule"): handlers on one io_context never race, so an object that lives on one executor needs
// no lock.

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

namespace dialkv::net {

// Thread-compatible: construct, Start(), Stop() and Join() from one owning thread.
// Next(), At() and size() are thread-safe.
// Every object bound to one of these io_contexts (a server, a socket, a timer) must be
// destroyed before the pool; handlers and coroutines still pending when the pool is
// destroyed are destroyed with it, without running.
class IoContextPool {
 public:
  // REQUIRES: threads >= 1.
  explicit IoContextPool(size_t threads);
  ~IoContextPool();  // Stops and joins.
  IoContextPool(const IoContextPool&) = delete;
  IoContextPool& operator=(const IoContextPool&) = delete;

  // Round-robin: the io_context for the next connection.
  asio::io_context& Next();
  asio::io_context& At(size_t i) { return *contexts_[i]; }
  size_t size() const { return contexts_.size(); }

  // Starts one thread per io_context. Each keeps running until Stop(). A second call does
  // nothing.
  void Start();
  // Makes every run() return once the handlers queued before this call ran (so work posted
  // by a server's Stop() just before is done); operations still outstanding then are
  // abandoned. Does not wait. The pool cannot be restarted.
  void Stop();
  // Waits for the threads to exit. REQUIRES: not called from one of the pool's threads.
  void Join();

 private:
  using Guard = asio::executor_work_guard<asio::io_context::executor_type>;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
};

}  // namespace dialkv::net
