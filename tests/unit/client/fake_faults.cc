#include "tests/unit/client/fake_faults.h"

#include <algorithm>
#include <map>
#include <string>

#include "server/net/frame.h"

namespace dialkv::client_test {
namespace {

bool IsClean(const v1::LinkFaults& link) {
  return link.drop_out() == 0 && link.drop_in() == 0 && !link.block_out() && !link.block_in() &&
         link.delay_ms() == 0 && link.jitter_ms() == 0;
}

bool IsProbability(double p) { return p >= 0 && p <= 1; }

}  // namespace

FakeFaults::FakeFaults(NodeId node_id, std::vector<NodeId> members) : members_(std::move(members)) {
  state_.set_node_id(node_id);
  state_.set_seed(1);
}

bool FakeFaults::Serves(const v1::Envelope& request) {
  return request.has_set_faults_request() || request.has_clear_faults_request() ||
         request.has_get_faults_request() || request.has_set_clock_offset_request() ||
         request.has_read_local_request();
}

Status FakeFaults::Check(const v1::SetFaultsRequest& request) const {
  std::vector<NodeId> seen;
  for (const v1::LinkFaultsPatch& patch : request.links()) {
    const std::string peer = "peer " + std::to_string(patch.peer());
    if (patch.peer() == state_.node_id() ||
        std::find(members_.begin(), members_.end(), patch.peer()) == members_.end()) {
      return Status::InvalidArgument(peer + " is not another member of the cluster");
    }
    if (std::find(seen.begin(), seen.end(), patch.peer()) != seen.end()) {
      return Status::InvalidArgument(peer + " is patched twice");
    }
    seen.push_back(patch.peer());
    if ((patch.has_drop_out() && !IsProbability(patch.drop_out())) ||
        (patch.has_drop_in() && !IsProbability(patch.drop_in()))) {
      return Status::InvalidArgument(peer + ": a probability is outside 0..1");
    }
    if (patch.has_delay_ms() && patch.delay_ms() > 60000) {
      return Status::InvalidArgument(peer + ": delay over 60000 ms");
    }
  }
  return Status::Ok();
}

void FakeFaults::Apply(const v1::SetFaultsRequest& request) {
  std::map<NodeId, v1::LinkFaults> links;
  for (const v1::LinkFaults& link : state_.links()) links[link.peer()] = link;
  for (const v1::LinkFaultsPatch& patch : request.links()) {
    v1::LinkFaults& link = links[patch.peer()];
    link.set_peer(patch.peer());
    if (patch.has_drop_out()) link.set_drop_out(patch.drop_out());
    if (patch.has_drop_in()) link.set_drop_in(patch.drop_in());
    if (patch.has_block_out()) link.set_block_out(patch.block_out());
    if (patch.has_block_in()) link.set_block_in(patch.block_in());
    if (patch.has_delay_ms()) link.set_delay_ms(patch.delay_ms());
    if (patch.has_jitter_ms()) link.set_jitter_ms(patch.jitter_ms());
  }
  state_.clear_links();
  for (const auto& [peer, link] : links) {
    if (!IsClean(link)) *state_.add_links() = link;
  }
  if (request.has_seed()) state_.set_seed(request.seed());
}

v1::Envelope FakeFaults::Answer(const v1::Envelope& request) {
  v1::Envelope reply;
  reply.set_id(request.id());
  if (request.has_read_local_request()) {
    v1::ReadLocalReply* local = reply.mutable_read_local_reply();
    local->set_node_id(state_.node_id());
    const std::string& key = request.read_local_request().key();
    if (key == "missing") {
      net::ToProto(Status::NotFound("no version of the key"), local->mutable_status());
      return reply;
    }
    local->mutable_version()->set_tombstone(key == "deleted");
    if (key != "deleted") local->mutable_version()->set_value("local-" + key);
    net::ToProto(Timestamp{kLocalHlc, kLocalWriter}, local->mutable_version()->mutable_timestamp());
    return reply;
  }
  Status status;
  if (request.has_set_faults_request()) {
    status = Check(request.set_faults_request());
    if (status.ok()) Apply(request.set_faults_request());
  } else if (request.has_clear_faults_request()) {
    state_.clear_links();
    state_.set_clock_offset_ms(0);
  } else if (request.has_set_clock_offset_request()) {
    const int64_t offset_ms = request.set_clock_offset_request().offset_ms();
    if (offset_ms < -3'600'000 || offset_ms > 3'600'000) {
      status = Status::InvalidArgument("clock offset beyond an hour");
    } else {
      state_.set_clock_offset_ms(offset_ms);
    }
  }
  net::ToProto(status, reply.mutable_faults_reply()->mutable_status());
  *reply.mutable_faults_reply()->mutable_state() = state_;
  return reply;
}

}  // namespace dialkv::client_test
