#pragma once
// The fault-injection and inspection requests of the client port (docs/fault-injection.md):
// SetFaults, ClearFaults, GetFaults and SetClockOffset, answered with a FaultsReply carrying
// the node's fault state after the request, and ReadLocal, answered with this node's own stored
// version of a key (no quorum, no repair, no skew check), so a harness can check convergence
// replica by replica.
//
// They are served only when the node started with --enable-fault-injection (an injector was
// given). Otherwise every one is answered PERMISSION_DENIED in its matching reply, naming the
// flag, and nothing changes.
//
// SetClockOffset skews the wall clock under this node's HLC (at most kMaxClockOffsetMs either
// way): the HLC never goes back, so a negative offset only slows it down until the skewed clock
// catches up with the timestamps already issued. Failure detection keeps the true clock.
// SetFaults may also switch test-only bugs of the coordinator on or off (BugSwitches: a CP read
// without write-back, a CP write without its timestamp phase), so a harness can show that it
// catches a broken CP. SetFaults may also inject disk trouble (SetFaultsRequest.disk: the
// node's storage fails writes as a full or failing disk would; SetDiskFaults gives the switch).
// ClearFaults heals every link, sets the offset back to 0, turns every bug off and ends disk
// trouble.
//
// Counts every request: dialkv_admin_requests_total{request,status}.
//
// Thread-safe: Handle may run concurrently on any io thread. The objects given at
// construction must outlive every Handle coroutine.

#include <asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>

#include "dialkv/types.h"
#include "proto/dialkv.pb.h"
#include "server/common/clock.h"
#include "server/common/metrics.h"
#include "server/net/fault_injector.h"
#include "server/replication/coordinator.h"
#include "server/replication/local_replica.h"
#include "server/storage/disk_faults.h"

namespace dialkv::api {

class AdminService {
 public:
  static constexpr int64_t kMaxClockOffsetMs = 3'600'000;

  struct Options {
    NodeId self = 0;
    uint32_t max_key_bytes = 4096;
    uint32_t read_timeout_ms = 5000;  // Bounds the storage read of ReadLocal.
  };

  // `injector`: null when fault injection is disabled (every request is then refused).
  // `clock`: the clock under the HLC, skewed by SetClockOffset; null when it cannot be skewed
  // (a node given its own Clock in tests): SetClockOffset then answers INVALID_ARGUMENT.
  // `coordinator`: where the test-only bug switches (SetFaultsRequest.bugs) act.
  AdminService(Options options, net::FaultInjector* injector, SystemClock* clock,
               replication::LocalReplica& local, replication::Coordinator& coordinator,
               metrics::Registry& metrics);

  // Where SetFaultsRequest.disk acts: `faults` is the storage engine's switch, and `changed` is
  // called after every change (the disk monitor checks again at once). Without it, a request
  // with a disk fault is refused with INVALID_ARGUMENT. REQUIRES: called before serving.
  void SetDiskFaults(std::shared_ptr<storage::DiskFaults> faults, std::function<void()> changed) {
    disk_faults_ = std::move(faults);
    disk_changed_ = std::move(changed);
  }

  // Whether `request` is one of the requests above.
  static bool Serves(const v1::Envelope& request);

  // REQUIRES: Serves(request). Never throws; errors are replies.
  asio::awaitable<v1::Envelope> Handle(v1::Envelope request);

 private:
  enum Kind : uint8_t { kSetFaults, kClearFaults, kGetFaults, kSetClockOffset, kReadLocal, kNum };

  Status SetFaults(const v1::SetFaultsRequest& request);
  Status SetClockOffset(int64_t offset_ms);
  void SetDisk(storage::DiskFault fault);  // REQUIRES: disk_faults_ set.
  void FillState(v1::FaultState* state) const;
  asio::awaitable<Status> ReadLocal(std::string key, v1::ReadLocalReply* reply);
  void Count(Kind kind, const Status& status);

  const Options options_;
  net::FaultInjector* const injector_;
  SystemClock* const clock_;
  replication::LocalReplica& local_;
  replication::Coordinator& coordinator_;
  std::shared_ptr<storage::DiskFaults> disk_faults_;
  std::function<void()> disk_changed_;
  metrics::Counter* requests_[kNum][kNumCodes] = {};
};

}  // namespace dialkv::api
