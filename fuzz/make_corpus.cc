// Writes the seed corpus of the fuzz targets: fuzz/corpus/<target>/<name>, small inputs in each
// target's input format (see the comment at the top of <target>_fuzz.cc), valid ones and near
// misses. Run once after a change of the formats or the protocol, and commit the output:
//   build/fuzz/dialkv-fuzz-corpus fuzz/corpus
// Existing files of the same names are overwritten; others are left alone.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_secret.h"
#include "proto/dialkv.pb.h"
#include "server/auth/token.h"
#include "server/net/frame.h"

namespace dialkv::fuzz {
namespace {

namespace fs = std::filesystem;

class CorpusWriter {
 public:
  explicit CorpusWriter(fs::path root) : root_(std::move(root)) {}

  void Write(std::string_view target, std::string_view name, std::string_view bytes) {
    const fs::path dir = root_ / target;
    fs::create_directories(dir);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
      ok_ = false;
    }
    ++written_;
  }

  bool ok() const { return ok_; }
  int written() const { return written_; }

 private:
  const fs::path root_;
  bool ok_ = true;
  int written_ = 0;
};

std::string Frame(const v1::Envelope& envelope) {
  std::string out;
  net::AppendFrame(envelope, &out);
  return out;
}

std::string RawFrame(std::string_view body) {
  std::string out(net::kFrameHeaderBytes, '\0');
  for (size_t i = 0; i < net::kFrameHeaderBytes; ++i) {
    out[i] = static_cast<char>(body.size() >> (8 * i));
  }
  return out.append(body);
}

v1::Envelope Get(uint64_t id, std::string key, v1::Consistency mode) {
  v1::Envelope e;
  e.set_id(id);
  e.mutable_get_request()->set_key(std::move(key));
  e.mutable_get_request()->set_consistency(mode);
  return e;
}

v1::Envelope Put(uint64_t id, std::string key, std::string value, v1::Consistency mode) {
  v1::Envelope e;
  e.set_id(id);
  e.mutable_put_request()->set_key(std::move(key));
  e.mutable_put_request()->set_value(std::move(value));
  e.mutable_put_request()->set_consistency(mode);
  return e;
}

v1::Envelope Delete(uint64_t id, std::string key, v1::Consistency mode) {
  v1::Envelope e;
  e.set_id(id);
  e.mutable_delete_request()->set_key(std::move(key));
  e.mutable_delete_request()->set_consistency(mode);
  return e;
}

v1::Envelope Auth(uint64_t id, std::string token) {
  v1::Envelope e;
  e.set_id(id);
  e.mutable_auth_request()->set_token(std::move(token));
  return e;
}

std::string Token(auth::Scopes scopes, std::string prefix = "", int64_t expires_at_s = 0) {
  auth::TokenClaims claims;
  claims.subject = "fuzz";
  claims.scopes = scopes;
  if (!prefix.empty()) claims.prefix = std::move(prefix);
  claims.expires_at_s = expires_at_s != 0 ? expires_at_s : kNowS + 3600;
  claims.issued_at_s = std::min(kNowS, claims.expires_at_s) - 60;
  return auth::CreateToken(std::string(kTokenSecret), claims).value();
}

constexpr auth::Scopes kAll = auth::kScopeRead | auth::kScopeWrite | auth::kScopeAdmin;

// Every request type of the client port, each once.
std::string EveryRequest() {
  std::string s;
  s += Frame(Put(1, "k", "v1", v1::CONSISTENCY_AP));
  s += Frame(Get(2, "k", v1::CONSISTENCY_AP));
  s += Frame(Put(3, "k", "v2", v1::CONSISTENCY_CP));
  s += Frame(Get(4, "k", v1::CONSISTENCY_DEFAULT));
  s += Frame(Delete(5, "k", v1::CONSISTENCY_CP));
  s += Frame(Get(6, "k", v1::CONSISTENCY_CP));
  v1::Envelope e;
  e.set_id(7);
  e.mutable_cluster_status_request();
  s += Frame(e);
  e.Clear();
  e.set_id(8);
  e.mutable_repair_request();
  s += Frame(e);
  e.Clear();
  e.set_id(9);
  e.mutable_read_local_request()->set_key("k");
  s += Frame(e);
  e.Clear();
  e.set_id(10);
  e.mutable_get_faults_request();
  s += Frame(e);
  e.Clear();
  e.set_id(11);
  e.mutable_set_faults_request()->set_seed(42);
  e.mutable_set_faults_request()->mutable_bugs()->set_skip_read_repair(true);
  s += Frame(e);
  e.Clear();
  e.set_id(12);
  e.mutable_set_clock_offset_request()->set_offset_ms(-1500);
  s += Frame(e);
  e.Clear();
  e.set_id(13);
  e.mutable_clear_faults_request();
  s += Frame(e);
  return s;
}

void FrameReaderCorpus(CorpusWriter& w) {
  // Input: limit selector, number of chunk lengths, the lengths, the stream.
  const auto input = [](uint8_t limit, std::vector<uint8_t> lengths, std::string_view stream) {
    std::string out;
    out += static_cast<char>(limit);
    out += static_cast<char>(lengths.size());
    for (const uint8_t l : lengths) out += static_cast<char>(l);
    return out.append(stream);
  };
  const std::string requests = EveryRequest();
  w.Write("frame_reader", "pipelined_requests", input(255, {}, requests));
  w.Write("frame_reader", "pipelined_requests_bytewise", input(255, {0}, requests));
  w.Write("frame_reader", "split_mid_header", input(255, {1, 2, 6, 30}, requests));
  w.Write("frame_reader", "closed_mid_frame",
          input(255, {}, requests.substr(0, requests.size() - 3)));
  w.Write("frame_reader", "closed_mid_header", input(255, {}, requests.substr(0, 2)));
  w.Write("frame_reader", "over_small_limit", input(1, {}, RawFrame(std::string(100, 'x'))));
  w.Write("frame_reader", "at_small_limit", input(1, {3}, RawFrame(std::string(16, 'x'))));
  w.Write("frame_reader", "empty_body", input(0, {}, RawFrame("") + RawFrame("")));
  w.Write("frame_reader", "not_an_envelope", input(255, {}, RawFrame("\xff\xff\xff")));
  // Field 99 (varint 1): a field of a newer protocol, refused.
  w.Write("frame_reader", "unknown_field", input(255, {}, RawFrame(std::string("\x98\x06\x01"))));
  w.Write("frame_reader", "huge_length",
          input(255, {}, std::string("\xff\xff\xff\x7f", 4) + "abc"));
  std::string big = Frame(Put(1, "big", std::string(20000, 'v'), v1::CONSISTENCY_AP));
  w.Write("frame_reader", "large_frame_in_pieces", input(255, {255, 127}, big + requests));
}

void ClientPortCorpus(CorpusWriter& w) {
  const auto input = [](bool tokens, std::string_view frames) {
    return std::string(1, tokens ? '\x01' : '\x00').append(frames);
  };
  const std::string requests = EveryRequest();
  w.Write("client_port", "open_every_request", input(false, requests));
  w.Write("client_port", "open_auth_request", input(false, Frame(Auth(1, "x")) + requests));
  w.Write("client_port", "tokens_all_scopes", input(true, Frame(Auth(1, Token(kAll))) + requests));
  w.Write("client_port", "tokens_read_only",
          input(true, Frame(Auth(1, Token(auth::kScopeRead))) + requests));
  w.Write("client_port", "tokens_prefix",
          input(true, Frame(Auth(1, Token(auth::kScopeRead | auth::kScopeWrite, "user/"))) +
                          Frame(Put(2, "user/a", "1", v1::CONSISTENCY_AP)) +
                          Frame(Put(3, "other", "1", v1::CONSISTENCY_AP)) +
                          Frame(Get(4, "user/a", v1::CONSISTENCY_CP))));
  w.Write("client_port", "tokens_expired",
          input(true, Frame(Auth(1, Token(kAll, "", kNowS - 3600))) + requests));
  w.Write("client_port", "tokens_missing", input(true, requests));
  w.Write("client_port", "tokens_bad_then_good",
          input(true, Frame(Auth(1, "not.a.token")) + Frame(Auth(2, Token(kAll))) + requests));
  // Near misses: a reply type as a request, an empty envelope, an empty key, a key over the
  // 4096-byte limit, a peer request on the client port.
  v1::Envelope reply;
  reply.set_id(1);
  reply.mutable_get_reply()->set_value("v");
  v1::Envelope empty;
  empty.set_id(2);
  v1::Envelope peer;
  peer.set_id(5);
  peer.mutable_replica_read_request()->set_key("k");
  w.Write(
      "client_port", "near_misses",
      input(false, Frame(reply) + Frame(empty) + Frame(Put(3, "", "v", v1::CONSISTENCY_AP)) +
                       Frame(Get(4, std::string(4097, 'k'), v1::CONSISTENCY_CP)) + Frame(peer)));
}

void HttpRequestCorpus(CorpusWriter& w) {
  w.Write("http_request", "get_health", "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n");
  w.Write("http_request", "get_metrics_query",
          "GET /metrics?name[]=x HTTP/1.0\r\nAccept: */*\r\nUser-Agent: fuzz\r\n\r\n");
  w.Write("http_request", "post", "POST /health HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  w.Write("http_request", "head", "HEAD / HTTP/1.1\r\n\r\n");
  w.Write("http_request", "http2", "GET /health HTTP/2.0\r\n\r\n");
  w.Write("http_request", "absolute_target", "GET http://x/health HTTP/1.1\r\n\r\n");
  w.Write("http_request", "two_spaces", "GET  /health HTTP/1.1\r\n\r\n");
  w.Write("http_request", "four_fields", "GET /health HTTP/1.1 x\r\n\r\n");
  w.Write("http_request", "no_version", "GET /health\r\n\r\n");
  w.Write("http_request", "unterminated", "GET /health HTTP/1.1\r\nHost: x\r\n");
  w.Write("http_request", "bare_newlines", "GET /health HTTP/1.1\n\n\r\n\r\n");
}

void TokenCorpus(CorpusWriter& w) {
  const auto as_sent = [](std::string_view token) { return std::string(1, '\0').append(token); };
  const auto signed_here = [](std::string_view json) {
    return std::string(1, '\x01').append(json);
  };
  const std::string good = Token(kAll, "user/");
  w.Write("token", "valid_all_scopes_prefix", as_sent(good));
  w.Write("token", "valid_read", as_sent(Token(auth::kScopeRead)));
  w.Write("token", "expired", as_sent(Token(auth::kScopeWrite, "", kNowS - 3600)));
  std::string bad_signature = good;
  bad_signature.back() = bad_signature.back() == 'A' ? 'B' : 'A';
  w.Write("token", "bad_signature", as_sent(bad_signature));
  w.Write("token", "alg_none",
          as_sent("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
                  "eyJzY29wZSI6ImFkbWluIiwiZXhwIjoxODAwMDAzNjAwfQ."));
  w.Write("token", "two_parts", as_sent("eyJhbGciOiJIUzI1NiJ9.e30"));
  w.Write("token", "not_base64", as_sent("!!.??.**"));
  w.Write("token", "scopes_and_duration", as_sent("kv:read kv:write,admin"));
  w.Write("token", "duration", as_sent("90m"));
  w.Write("token", "payload_full",
          signed_here(R"({"sub":"fuzz","scope":"kv:read kv:write admin","dialkv:prefix":"a/",)"
                      R"("iat":1799999000,"nbf":1799999000,"exp":1800003600})"));
  w.Write("token", "payload_minimal", signed_here(R"({"scope":"kv:read","exp":1800000010})"));
  w.Write("token", "payload_string_exp", signed_here(R"({"scope":"kv:read","exp":"1800003600"})"));
  w.Write("token", "payload_unknown_scope",
          signed_here(R"({"scope":"kv:read root","exp":1800003600})"));
  w.Write("token", "payload_no_exp", signed_here(R"({"scope":"admin"})"));
  w.Write("token", "payload_not_yet_valid",
          signed_here(R"({"scope":"admin","nbf":1800009999,"exp":1800099999})"));
  w.Write("token", "payload_prefix_number",
          signed_here(R"({"scope":"admin","dialkv:prefix":7,"exp":1800003600})"));
  w.Write("token", "header_none",
          signed_here(std::string(R"({"alg":"none"})") + '\0' +
                      R"({"scope":"admin","exp":1800003600})"));
  w.Write("token", "header_rs256",
          signed_here(std::string(R"({"alg":"RS256","typ":"JWT"})") + '\0' +
                      R"({"scope":"admin","exp":1800003600})"));
  w.Write("token", "payload_not_json", signed_here(R"({"scope":"admin",)"));
}

}  // namespace
}  // namespace dialkv::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR (fuzz/corpus)\n", argv[0]);
    return 2;
  }
  dialkv::fuzz::CorpusWriter w{std::filesystem::path(argv[1])};
  dialkv::fuzz::FrameReaderCorpus(w);
  dialkv::fuzz::ClientPortCorpus(w);
  dialkv::fuzz::HttpRequestCorpus(w);
  dialkv::fuzz::TokenCorpus(w);
  std::fprintf(stderr, "wrote %d files under %s\n", w.written(), argv[1]);
  return w.ok() ? 0 : 1;
}
