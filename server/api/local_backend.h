#pragma once
// The single-node KvBackend: every key lives in this node's own engine.
//
// Threading. Engine calls may block: with --sync every write waits for an fsync, and a
// RocksDB read that misses both the block cache and the OS page cache waits for the disk. An
// io thread serves many connections, so whatever blocks it stalls all of them. Options say
// which calls leave the caller's thread for a storage thread pool (and resume on the caller's
// executor afterwards); the rest run inline.
//
// Node's choice (node.cc): with --sync, writes go to the pool and reads run inline; without
// it, everything runs inline. Measured on a 2-core VM, RocksDB with sync off, 100-byte values,
// one io thread, 2 loopback connections (ops/s):
//                       put inline   put pool   get inline   get pool
//   1 request in flight     42,000     22,000       44,000     23,000
//   32 in flight            48,000     54,000       70,000     50,000
// The hop costs about 20 µs per request (two cross-thread wake-ups), doubling the latency of
// a lone request, and buys nothing unless the call really blocks. Without sync a write appends
// to the WAL in the page cache and a read of a working set that fits in memory does not touch
// the disk, so both run inline. The price, accepted: while RocksDB stalls writers (flushes or
// compactions behind) or a read goes to a cold disk, that io thread's connections wait, and an
// inline call cannot be abandoned at its deadline. An inline call is not started once its
// deadline has passed (same answers as below) and otherwise answers what it did, late or not;
// dialkv_request_duration_seconds shows such stalls.
//
// Deadlines. A request whose call runs on the pool never waits past its deadline. The caller
// waits on a timer; the storage thread posts the result back and cancels that timer. When the
// deadline comes first the request is answered at once and the storage call, if it already
// started, finishes in the background and its result is dropped:
//   - a read answers kTimeout;
//   - a write whose call had started answers kUnknown (it may be applied);
//   - a write still queued answers kUnavailable and is never started (definitely not applied).
//
// Timestamps. A write takes ts = hlc.Now() just before it applies (on whichever thread runs
// it), and applies with Engine::ApplyIfNewer. If the stored version is newer (the wall clock went
// back across a restart, or the version came from a node whose clock is ahead), the HLC observes
// the stored timestamp and the write retries once with a greater one, so an acknowledged
// write on one node is what the next read on that node returns. If the stored timestamp is
// beyond the clock-skew guard, the write is acknowledged as ordered before it (last writer
// wins) and a warning is logged.
//
// Thread-safe. REQUIRES: callers' executors never run two handlers at once (an io_context run
// by one thread, or a strand). The engine, the HLC and this object outlive every call, and
// the storage pool is joined before this object and the callers' io_contexts are destroyed.

#include <asio/thread_pool.hpp>
#include <memory>

#include "server/api/kv_backend.h"
#include "server/common/hlc.h"
#include "server/storage/engine.h"

namespace dialkv::api {

class LocalBackend final : public KvBackend {
 public:
  struct Options {
    // Where writes (and, with offload_reads, reads) run. nullptr: everything inline on the
    // caller's thread. Not owned.
    asio::thread_pool* storage_pool = nullptr;
    // Reads go to storage_pool too. Off (Node's choice): reads never fsync, so they run inline.
    bool offload_reads = true;
  };

  LocalBackend(Options options, storage::Engine& engine,  // Not owned.
               HybridLogicalClock& hlc);                  // Not owned.

  asio::awaitable<Result<Version>> Read(std::string key, Deadline deadline) override;
  asio::awaitable<Result<Timestamp>> Write(std::string key, std::string value, bool tombstone,
                                           Deadline deadline) override;

 private:
  // Runs on a storage thread (or inline): the engine work of one write, retry included.
  Result<Timestamp> WriteNow(std::string_view key, std::string value, bool tombstone);

  const Options options_;
  storage::Engine& engine_;
  HybridLogicalClock& hlc_;
};

}  // namespace dialkv::api
