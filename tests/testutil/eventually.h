#pragma once
// Polling with a deadline, for tests that wait for a cluster to converge.

#include <chrono>
#include <thread>

namespace dialkv::testutil {

// Calls `probe` every 50 ms until it returns true or `timeout` passes; then once more.
// Returns its last answer.
template <typename Probe>
bool Eventually(Probe probe, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (probe()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return probe();
}

}  // namespace dialkv::testutil
