#pragma once
// How RocksEngine sizes and schedules RocksDB: the write-ahead log's retention, the memtables,
// flushes and compaction. Plain values with documented defaults; the node fills them from
// flags (--rocksdb-*), and docs/storage.md explains each to an operator.
//
// Why these defaults. The disk a node uses and the time it takes to restart must follow the
// data it holds, not how much was written since it started. RocksDB deletes a WAL file only
// when every column family has flushed what it wrote there; with RocksDB's defaults, a column
// family written rarely (`meta`: the clock bound, every few hundred ms; `hints`) holds on to
// every WAL file written since its last flush, up to a total of 4 x the sum of all write
// buffers (2.5 GB with five column families), all of which a restart replays. So:
//  - column families flush together (RocksDB's atomic_flush): when `data` flushes, the few
//    entries `meta` and `hints` wrote in the same logs flush too, and the logs can go;
//  - the WAL has a hard total size (max_total_wal_bytes), past which everything is flushed;
//  - the WAL is compressed, so a log of compressible values costs what they cost in SSTs;
//  - the memtables share one budget sized from the machine's memory, and `data` flushes at a
//    bounded size, which bounds both the WAL a restart replays and the memory a node uses;
//  - files are not preallocated, so the disk used is the bytes held;
//  - leveled compaction with dynamic level sizes (space amplification near 1.1x), its writes
//    paced by a rate limiter so compaction does not starve the foreground on small machines.
//
// RocksDB types stay out of this header: node.h and main.cc include it.

#include <cstdint>
#include <string>

#include "server/common/status.h"

namespace rocksdb {
struct ColumnFamilyOptions;
struct DBOptions;
}  // namespace rocksdb

namespace dialkv::storage {

struct RocksTuning {
  // The WAL files kept alive may total at most this; past it RocksDB flushes the column
  // families that pin the oldest file. It bounds what a restart replays (RocksDB replays a few
  // hundred MB/s) and the WAL's share of the disk. 0: RocksDB's own default (4 x the sum of
  // every column family's write buffers), which is what let the WAL grow to gigabytes.
  uint64_t max_total_wal_bytes = uint64_t{128} << 20;
  // All memtables together (RocksDB's db_write_buffer_size): past it the largest is flushed.
  // 0: derived from the machine's memory, 1/32 of it, clamped to [64 MiB, 512 MiB].
  uint64_t memtable_budget_bytes = 0;
  // One memtable of `data`, which flushes to an SST file when full. 0: 1/32 of the memtable
  // budget, clamped to [4 MiB, 64 MiB] (16 MiB from 16 GiB of memory up). Larger: fewer, larger
  // flushes and L0 files, fewer compactions; smaller: less to replay at restart, and L0 files
  // (up to 4 before they are compacted) that take less disk next to a small data set.
  uint64_t write_buffer_bytes = 0;
  // One memtable of each small column family (hints, meta, the hash index, default).
  uint64_t small_write_buffer_bytes = uint64_t{8} << 20;
  // Memtables of one column family, the one being written included: writes stall when this
  // many are full and still flushing. 4 lets a flush fall behind briefly without a stall.
  int max_write_buffers = 4;
  // Every column family flushes with the others (RocksDB's atomic_flush), so a rarely written
  // one never keeps WAL files alive. Off: RocksDB's default, where only max_total_wal_bytes
  // releases them.
  bool flush_together = true;
  // Compress WAL records with zstd. Costs a little CPU per write; a WAL of compressible values
  // shrinks to about their compressed size. RocksDB reads a compressed or plain WAL either way.
  bool wal_compression = true;
  // Flush and compaction writes per second, on average (RocksDB's auto-tuned rate limiter: it
  // uses less when there is little to do, never more). 0: unlimited.
  uint64_t compaction_rate_bytes = uint64_t{64} << 20;
  // Threads for flushes and compactions together (RocksDB's max_background_jobs).
  int max_background_jobs = 2;
  // Reserve disk for files ahead of their writes (RocksDB's allow_fallocate). RocksDB
  // preallocates each WAL file to 1.1x the largest write buffer, which `du` and a full disk
  // count from the file's first byte: a node holding little data looks (and is) 70 MB bigger
  // per WAL file. Off: files take what they hold; an extent or two more per file.
  bool preallocate_files = false;
  // Applied last, in RocksDB's option-string syntax ("name=value;name=value", the names of an
  // OPTIONS file): any DBOptions field, and any ColumnFamilyOptions field of `data`. They win
  // over everything above. A string RocksDB does not accept makes Open fail.
  std::string db_options;
  std::string data_cf_options;
};

// The sizes RocksTuning resolves to on a machine, after its "0: derived" defaults.
struct ResolvedTuning {
  uint64_t memtable_budget_bytes = 0;
  uint64_t write_buffer_bytes = 0;
};
// `memory_bytes`: the machine's physical memory (0: unknown, taken as 2 GiB).
ResolvedTuning Resolve(const RocksTuning& tuning, uint64_t memory_bytes);

// The machine's physical memory in bytes (0 when it cannot be read).
uint64_t PhysicalMemoryBytes();

// Fills the options RocksEngine opens RocksDB with: `db` (the whole database), `data` (the
// `data` column family) and `small` (every other one), on top of what they already hold
// (table factories, the block cache). Errors: kInvalidArgument when a value is out of range
// or an option string is not accepted (the message quotes RocksDB).
[[nodiscard]] Status ApplyTuning(const RocksTuning& tuning, uint64_t memory_bytes,
                                 rocksdb::DBOptions* db, rocksdb::ColumnFamilyOptions* data,
                                 rocksdb::ColumnFamilyOptions* small);

}  // namespace dialkv::storage
