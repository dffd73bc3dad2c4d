// The wire codec on the request path: framing a reply and parsing a request.
#include <benchmark/benchmark.h>

#include <string>

#include "server/net/frame.h"

namespace dialkv::net {
namespace {

v1::Envelope PutEnvelope(size_t value_bytes) {
  v1::Envelope e;
  e.set_id(123456);
  auto* put = e.mutable_put_request();
  put->set_key("user:0000012345");
  put->set_value(std::string(value_bytes, 'v'));
  put->set_timeout_ms(1000);
  return e;
}

void BM_AppendFrame(benchmark::State& state) {
  const v1::Envelope e = PutEnvelope(static_cast<size_t>(state.range(0)));
  std::string out;
  // NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): the benchmark loop idiom.
  for (auto _ : state) {
    out.clear();
    AppendFrame(e, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_AppendFrame)->Arg(100)->Arg(4096);

void BM_ParseEnvelope(benchmark::State& state) {
  std::string frame;
  AppendFrame(PutEnvelope(static_cast<size_t>(state.range(0))), &frame);
  const std::string_view body(frame.data() + kFrameHeaderBytes, frame.size() - kFrameHeaderBytes);
  v1::Envelope e;
  // NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): the benchmark loop idiom.
  for (auto _ : state) {
    Status s = ParseEnvelope(body, &e);
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseEnvelope)->Arg(100)->Arg(4096);

}  // namespace
}  // namespace dialkv::net
