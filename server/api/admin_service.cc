#include "server/api/admin_service.h"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "server/common/logging.h"
#include "server/net/frame.h"
#include "server/replication/wire.h"

namespace dialkv::api {
namespace {

constexpr const char* kKindNames[] = {"set_faults", "clear_faults", "get_faults",
                                      "set_clock_offset", "read_local"};

net::LinkFaultsPatch FromProto(const v1::LinkFaultsPatch& p) {
  net::LinkFaultsPatch patch;
  patch.peer = p.peer();
  if (p.has_drop_out()) patch.drop_out = p.drop_out();
  if (p.has_drop_in()) patch.drop_in = p.drop_in();
  if (p.has_block_out()) patch.block_out = p.block_out();
  if (p.has_block_in()) patch.block_in = p.block_in();
  if (p.has_delay_ms()) patch.delay_ms = p.delay_ms();
  if (p.has_jitter_ms()) patch.jitter_ms = p.jitter_ms();
  return patch;
}

void ToProto(const net::LinkFaults& link, v1::LinkFaults* out) {
  out->set_peer(link.peer);
  out->set_drop_out(link.drop_out);
  out->set_drop_in(link.drop_in);
  out->set_block_out(link.block_out);
  out->set_block_in(link.block_in);
  out->set_delay_ms(link.delay_ms);
  out->set_jitter_ms(link.jitter_ms);
}

storage::DiskFault FromProto(v1::DiskFault fault) {
  switch (fault) {
    case v1::DISK_FAULT_FULL:
      return storage::DiskFault::kFull;
    case v1::DISK_FAULT_IO_ERROR:
      return storage::DiskFault::kIoError;
    default:
      return storage::DiskFault::kNone;
  }
}

v1::DiskFault ToProto(storage::DiskFault fault) {
  switch (fault) {
    case storage::DiskFault::kFull:
      return v1::DISK_FAULT_FULL;
    case storage::DiskFault::kIoError:
      return v1::DISK_FAULT_IO_ERROR;
    case storage::DiskFault::kNone:
      break;
  }
  return v1::DISK_FAULT_NONE;
}

}  // namespace

AdminService::AdminService(Options options, net::FaultInjector* injector, SystemClock* clock,
                           replication::LocalReplica& local, replication::Coordinator& coordinator,
                           metrics::Registry& metrics)
    : options_(options),
      injector_(injector),
      clock_(clock),
      local_(local),
      coordinator_(coordinator) {
  auto& requests = metrics.AddCounter(
      "dialkv_admin_requests_total",
      "Fault-injection and inspection requests on the client port, by request and status "
      "(PERMISSION_DENIED: the node runs without --enable-fault-injection).",
      {"request", "status"});
  for (int kind = 0; kind < kNum; ++kind) {
    for (int code = 0; code < kNumCodes; ++code) {
      requests_[kind][code] =
          &requests.WithLabels({kKindNames[kind], CodeName(static_cast<Code>(code))});
    }
  }
}

bool AdminService::Serves(const v1::Envelope& request) {
  switch (request.body_case()) {
    case v1::Envelope::kSetFaultsRequest:
    case v1::Envelope::kClearFaultsRequest:
    case v1::Envelope::kGetFaultsRequest:
    case v1::Envelope::kSetClockOffsetRequest:
    case v1::Envelope::kReadLocalRequest:
      return true;
    default:
      return false;
  }
}

asio::awaitable<v1::Envelope> AdminService::Handle(v1::Envelope request) {
  v1::Envelope reply;
  reply.set_id(request.id());
  Kind kind = kGetFaults;
  switch (request.body_case()) {
    case v1::Envelope::kSetFaultsRequest:
      kind = kSetFaults;
      break;
    case v1::Envelope::kClearFaultsRequest:
      kind = kClearFaults;
      break;
    case v1::Envelope::kSetClockOffsetRequest:
      kind = kSetClockOffset;
      break;
    case v1::Envelope::kReadLocalRequest:
      kind = kReadLocal;
      break;
    default:
      break;
  }
  Status status;
  if (injector_ == nullptr) {
    status = Status::PermissionDenied(
        std::string(kKindNames[kind]) + " refused: fault injection is disabled on node " +
        std::to_string(options_.self) + "; start it with --enable-fault-injection");
  } else if (kind == kReadLocal) {
    status = co_await ReadLocal(std::move(*request.mutable_read_local_request()->mutable_key()),
                                reply.mutable_read_local_reply());
  } else if (kind == kSetFaults) {
    status = SetFaults(request.set_faults_request());
  } else if (kind == kClearFaults) {
    injector_->Clear();
    if (clock_ != nullptr) clock_->SetOffsetMs(0);
    coordinator_.SetBugs(false, false);
    if (disk_faults_ != nullptr && disk_faults_->fault() != storage::DiskFault::kNone) {
      SetDisk(storage::DiskFault::kNone);
    }
  } else if (kind == kSetClockOffset) {
    status = SetClockOffset(request.set_clock_offset_request().offset_ms());
  }
  if (kind == kReadLocal) {
    v1::ReadLocalReply* out = reply.mutable_read_local_reply();
    out->set_node_id(options_.self);
    net::ToProto(status, out->mutable_status());
  } else {
    v1::FaultsReply* out = reply.mutable_faults_reply();
    if (injector_ != nullptr) FillState(out->mutable_state());
    net::ToProto(status, out->mutable_status());
  }
  Count(kind, status);
  co_return reply;
}

void AdminService::SetDisk(storage::DiskFault fault) {
  disk_faults_->Set(fault);
  Log(Subsystem::kApi)
      .warn("node={} fault injection: disk {}", options_.self,
            fault == storage::DiskFault::kNone
                ? std::string("healthy again")
                : "fails every write (" + std::string(storage::DiskFaultName(fault)) + ")");
  if (disk_changed_) disk_changed_();
}

Status AdminService::SetFaults(const v1::SetFaultsRequest& request) {
  if (request.has_disk()) {
    if (!v1::DiskFault_IsValid(request.disk())) {
      return Status::InvalidArgument("unknown disk fault " + std::to_string(request.disk()));
    }
    if (disk_faults_ == nullptr) {
      return Status::InvalidArgument("node " + std::to_string(options_.self) +
                                     " cannot inject disk faults (its storage is not RocksDB)");
    }
  }
  std::vector<net::LinkFaultsPatch> patches;
  patches.reserve(static_cast<size_t>(request.links_size()));
  for (const v1::LinkFaultsPatch& p : request.links()) patches.push_back(FromProto(p));
  std::optional<uint64_t> seed;
  if (request.has_seed()) seed = request.seed();
  Status applied = injector_->Apply(patches, seed);
  if (!applied.ok()) return applied;
  if (request.has_disk()) SetDisk(FromProto(request.disk()));
  Log(Subsystem::kApi)
      .info("node={} fault injection: {} link change(s){}", options_.self, patches.size(),
            seed ? ", seed " + std::to_string(*seed) : "");
  if (request.has_bugs()) {
    const v1::BugSwitches& bugs = request.bugs();
    const bool read_repair =
        bugs.has_skip_read_repair() ? bugs.skip_read_repair() : coordinator_.skip_read_repair();
    const bool timestamp_phase = bugs.has_skip_write_timestamp_phase()
                                     ? bugs.skip_write_timestamp_phase()
                                     : coordinator_.skip_write_timestamp_phase();
    coordinator_.SetBugs(read_repair, timestamp_phase);
    if (read_repair || timestamp_phase) {
      Log(Subsystem::kApi)
          .warn(
              "node={} TEST-ONLY BUGS ON: CP is broken on purpose (skip_read_repair={}, "
              "skip_write_timestamp_phase={})",
              options_.self, read_repair, timestamp_phase);
    }
  }
  return Status::Ok();
}

Status AdminService::SetClockOffset(int64_t offset_ms) {
  if (clock_ == nullptr) {
    return Status::InvalidArgument("node " + std::to_string(options_.self) +
                                   " runs on a clock that cannot be skewed");
  }
  if (offset_ms < -kMaxClockOffsetMs || offset_ms > kMaxClockOffsetMs) {
    return Status::InvalidArgument("clock offset " + std::to_string(offset_ms) +
                                   " ms is out of range; at most " +
                                   std::to_string(kMaxClockOffsetMs) + " ms either way");
  }
  clock_->SetOffsetMs(offset_ms);
  Log(Subsystem::kApi)
      .info("node={} fault injection: wall clock offset {} ms", options_.self, offset_ms);
  return Status::Ok();
}

void AdminService::FillState(v1::FaultState* state) const {
  state->set_node_id(options_.self);
  state->set_seed(injector_->seed());
  state->set_clock_offset_ms(clock_ != nullptr ? clock_->offset_ms() : 0);
  state->set_skip_read_repair(coordinator_.skip_read_repair());
  state->set_skip_write_timestamp_phase(coordinator_.skip_write_timestamp_phase());
  if (disk_faults_ != nullptr) state->set_disk(ToProto(disk_faults_->fault()));
  for (const net::LinkFaults& link : injector_->Links()) ToProto(link, state->add_links());
}

asio::awaitable<Status> AdminService::ReadLocal(std::string key, v1::ReadLocalReply* reply) {
  if (key.empty() || key.size() > options_.max_key_bytes) {
    co_return Status::InvalidArgument("key of " + std::to_string(key.size()) +
                                      " bytes; keys are 1 to " +
                                      std::to_string(options_.max_key_bytes) + " bytes");
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.read_timeout_ms);
  Result<Version> read = co_await local_.Read(std::move(key), deadline);
  if (!read.ok()) co_return read.status();
  replication::ToProto(*read, reply->mutable_version());
  co_return Status::Ok();
}

void AdminService::Count(Kind kind, const Status& status) {
  requests_[kind][static_cast<int>(status.code())]->Inc();
}

}  // namespace dialkv::api
