#pragma once
// The replication code's name for the shared task tracker (server/common/task_tracker.h).

#include "server/common/task_tracker.h"

namespace dialkv::replication {

using TaskTracker = ::dialkv::TaskTracker;

}  // namespace dialkv::replication
