#include "server/api/kv_service.h"

#include <algorithm>
#include <string>
#include <utility>

#include "server/common/hash.h"
#include "server/common/logging.h"
#include "server/net/frame.h"

namespace dialkv::api {
namespace {

using replication::Deadline;

constexpr const char* kOpNames[] = {"get", "put", "delete", "status", "repair", "invalid"};
constexpr const char* kModeNames[] = {"cp", "ap"};

int ModeIndex(Consistency mode) { return mode == Consistency::kAp ? 1 : 0; }

// CONSISTENCY_DEFAULT (a request that does not say) is CP: the safe reading.
Consistency ModeOf(v1::Consistency c) {
  return c == v1::CONSISTENCY_AP ? Consistency::kAp : Consistency::kCp;
}

// The name of the oneof field an envelope carries ("put_reply"), for messages.
std::string BodyName(const v1::Envelope& envelope) {
  const auto* field = envelope.GetDescriptor()->FindFieldByNumber(envelope.body_case());
  return field != nullptr ? std::string(field->name()) : std::string("nothing");
}

std::string SizeOverLimit(std::string_view what, size_t size, uint64_t limit,
                          std::string_view flag) {
  std::string message = std::string(what) + " of " + std::to_string(size) +
                        " bytes is over the limit of " + std::to_string(limit) + " bytes";
  if (!flag.empty()) message += " (" + std::string(flag) + ")";
  return message;
}

bool IsDeadlineOutcome(Code code) {
  return code == Code::kTimeout || code == Code::kUnknown || code == Code::kUnavailable;
}

bool IsServerFault(Code code) {
  return code == Code::kIOError || code == Code::kCorruption || code == Code::kInternal;
}

}  // namespace

KvService::KvService(Options options, replication::Coordinator& coordinator,
                     metrics::Registry& metrics, ClusterStatusFn cluster_status, RepairFn repair)
    : options_(options),
      coordinator_(coordinator),
      cluster_status_(std::move(cluster_status)),
      repair_(std::move(repair)),
      log_(Log(Subsystem::kApi)),
      timeouts_capped_(
          &metrics
               .AddCounter(
                   "dialkv_timeouts_capped_total",
                   "Requests whose timeout_ms was over --max-timeout-ms and was shortened to it.")
               .Get()) {
  auto& requests = metrics.AddCounter(
      "dialkv_requests_total",
      "Client requests answered, by operation, consistency mode and status code (\"invalid\": "
      "envelopes that carried no request; status and invalid count under mode cp).",
      {"op", "mode", "status"});
  auto& duration = metrics.AddHistogram(
      "dialkv_request_duration_seconds",
      "Time from a request's arrival at the service to its reply, by operation and mode.",
      {"op", "mode"}, metrics::DefaultLatencyBucketsSeconds());
  for (int op = 0; op < kNumOps; ++op) {
    for (int mode = 0; mode < kNumModes; ++mode) {
      duration_[op][mode] = &duration.WithLabels({kOpNames[op], kModeNames[mode]});
      for (int code = 0; code < kNumCodes; ++code) {
        requests_[op][mode][code] = &requests.WithLabels(
            {kOpNames[op], kModeNames[mode], CodeName(static_cast<Code>(code))});
      }
    }
  }
}

net::RequestHandler KvService::AsHandler() {
  return [this](v1::Envelope request) { return Handle(std::move(request)); };
}

uint32_t KvService::EffectiveTimeoutMs(uint32_t timeout_ms) const {
  return timeout_ms == 0 ? options_.default_timeout_ms
                         : std::min(timeout_ms, options_.max_timeout_ms);
}

uint32_t KvService::DeadlineMs(uint32_t timeout_ms) {
  if (timeout_ms > options_.max_timeout_ms) timeouts_capped_->Inc();
  return EffectiveTimeoutMs(timeout_ms);
}

Status KvService::WithTimeout(Status status, uint32_t timeout_ms) const {
  if (!IsDeadlineOutcome(status.code())) return status;
  return Status(status.code(), status.message() + " (timeout " +
                                   std::to_string(EffectiveTimeoutMs(timeout_ms)) + " ms)");
}

Status KvService::ValidateKey(const std::string& key) const {
  if (key.empty()) {
    return Status::InvalidArgument("key is empty; keys are 1 to " +
                                   std::to_string(options_.max_key_bytes) + " bytes");
  }
  if (key.size() > options_.max_key_bytes) {
    return Status::InvalidArgument(SizeOverLimit("key", key.size(), options_.max_key_bytes, ""));
  }
  return Status::Ok();
}

asio::awaitable<v1::Envelope> KvService::Handle(v1::Envelope request) {
  const auto start = std::chrono::steady_clock::now();
  v1::Envelope reply;
  reply.set_id(request.id());
  switch (request.body_case()) {
    case v1::Envelope::kGetRequest: {
      v1::GetRequest& get = *request.mutable_get_request();
      const Consistency mode = ModeOf(get.consistency());
      std::string key = std::move(*get.mutable_key());
      const uint64_t key_hash = KeyHash(key);
      v1::GetReply* out = reply.mutable_get_reply();
      Status status = ValidateKey(key);
      if (status.ok()) {
        const Deadline deadline = start + std::chrono::milliseconds(DeadlineMs(get.timeout_ms()));
        Result<Version> read = co_await coordinator_.Read(std::move(key), mode, deadline);
        if (read.ok() && !read->tombstone) {
          *out->mutable_value() = std::move(read->value);
          net::ToProto(read->timestamp, out->mutable_timestamp());
        } else if (read.ok()) {
          status = Status::NotFound("key not found (deleted)");
          net::ToProto(read->timestamp, out->mutable_timestamp());
        } else if (read.status().IsNotFound()) {
          status = Status::NotFound("key not found");
        } else {
          status = WithTimeout(read.status(), get.timeout_ms());
        }
      }
      net::ToProto(status, out->mutable_status());
      Finish(kGet, mode, status, start, key_hash);
      break;
    }
    case v1::Envelope::kPutRequest: {
      v1::PutRequest& put = *request.mutable_put_request();
      v1::PutReply* out = reply.mutable_put_reply();
      const Consistency mode = ModeOf(put.consistency());
      std::string key = std::move(*put.mutable_key());
      const uint64_t key_hash = KeyHash(key);
      bool hinted = false;
      Status status = co_await Write(kPut, std::move(key), std::move(*put.mutable_value()), mode,
                                     start, put.timeout_ms(), out->mutable_timestamp(), &hinted);
      if (!status.ok()) out->clear_timestamp();
      out->set_hinted(hinted);
      net::ToProto(status, out->mutable_status());
      Finish(kPut, mode, status, start, key_hash);
      break;
    }
    case v1::Envelope::kDeleteRequest: {
      v1::DeleteRequest& del = *request.mutable_delete_request();
      v1::DeleteReply* out = reply.mutable_delete_reply();
      const Consistency mode = ModeOf(del.consistency());
      std::string key = std::move(*del.mutable_key());
      const uint64_t key_hash = KeyHash(key);
      bool hinted = false;
      Status status = co_await Write(kDelete, std::move(key), std::string(), mode, start,
                                     del.timeout_ms(), out->mutable_timestamp(), &hinted);
      if (!status.ok()) out->clear_timestamp();
      out->set_hinted(hinted);
      net::ToProto(status, out->mutable_status());
      Finish(kDelete, mode, status, start, key_hash);
      break;
    }
    case v1::Envelope::kClusterStatusRequest: {
      *reply.mutable_cluster_status_reply() = cluster_status_();
      Finish(kStatus, Consistency::kCp, Status::Ok(), start, 0);
      break;
    }
    case v1::Envelope::kRepairRequest: {
      *reply.mutable_repair_reply() = co_await repair_();
      Finish(kRepair, Consistency::kCp, net::FromProto(reply.repair_reply().status()), start, 0);
      break;
    }
    default: {
      Status status = Status::InvalidArgument(
          "envelope carries " + BodyName(request) +
          ", not a client request; send get_request, put_request, delete_request, "
          "cluster_status_request, repair_request or an admin request");
      net::ToProto(status, reply.mutable_error_reply()->mutable_status());
      Finish(kInvalid, Consistency::kCp, status, start, 0);
      break;
    }
  }
  co_return reply;
}

asio::awaitable<Status> KvService::Write(Op op, std::string key, std::string value,
                                         Consistency mode,
                                         std::chrono::steady_clock::time_point start,
                                         uint32_t timeout_ms, v1::Timestamp* timestamp,
                                         bool* hinted) {
  Status valid = ValidateKey(key);
  if (!valid.ok()) co_return valid;
  if (value.size() > options_.max_value_bytes) {
    co_return Status::InvalidArgument(
        SizeOverLimit("value", value.size(), options_.max_value_bytes, "--max-value-bytes"));
  }
  const Deadline deadline = start + std::chrono::milliseconds(DeadlineMs(timeout_ms));
  Result<replication::WriteOutcome> written =
      co_await coordinator_.Write(std::move(key), std::move(value), op == kDelete, mode, deadline);
  if (!written.ok()) co_return WithTimeout(written.status(), timeout_ms);
  net::ToProto(written->timestamp, timestamp);
  *hinted = written->hinted;
  co_return Status::Ok();
}

void KvService::Finish(Op op, Consistency mode, const Status& status,
                       std::chrono::steady_clock::time_point start, uint64_t key_hash) {
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const int m = ModeIndex(mode);
  requests_[op][m][static_cast<int>(status.code())]->Inc();
  duration_[op][m]->Observe(std::chrono::duration<double>(elapsed).count());
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  DIALKV_LOG_DEBUG(log_, "op={} mode={} key_hash={:016x} status={} us={}", kOpNames[op],
                   kModeNames[m], key_hash, CodeName(status.code()), micros);
  uint64_t suppressed = 0;
  if (IsServerFault(status.code()) && fault_log_.Allow(&suppressed)) {
    log_.error("op={} key_hash={:016x} failed: {}{}", kOpNames[op], key_hash, status.ToString(),
               LogLimiter::SuppressedNote(suppressed));
  } else if (IsDeadlineOutcome(status.code()) && deadline_log_.Allow(&suppressed)) {
    // kUnavailable is a refusal (no quorum, clock skew, disk alarm), not a missed deadline.
    log_.warn("op={} key_hash={:016x} {} after {} us: {}{}", kOpNames[op], key_hash,
              status.code() == Code::kUnavailable ? "refused" : "missed its deadline", micros,
              status.ToString(), LogLimiter::SuppressedNote(suppressed));
  }
}

}  // namespace dialkv::api
