#include "server/common/clock.h"

#include <chrono>

namespace dialkv {

int64_t SystemClock::NowMs() const {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(now).count() + offset_ms();
}

}  // namespace dialkv
