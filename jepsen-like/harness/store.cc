#include "jepsen-like/harness/store.h"

#include <system_error>

namespace dialkv::jepsen {
namespace {

// More same-second runs than this means something loops; stop instead of filling the disk.
constexpr int kMaxRunsPerSecond = 1000;

// Points `link` at `target` (relative to the link's directory) by renaming a new link over it.
Status ReplaceSymlink(const std::filesystem::path& target, const std::filesystem::path& link) {
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(link, ec)) &&
      !std::filesystem::is_symlink(std::filesystem::symlink_status(link, ec))) {
    return Status::IOError(link.string() + " exists and is not a symlink; not replacing it");
  }
  const std::filesystem::path tmp = link.string() + ".tmp";
  std::filesystem::remove(tmp, ec);
  std::filesystem::create_directory_symlink(target, tmp, ec);
  if (ec) return Status::IOError("cannot create the symlink " + tmp.string() + ": " + ec.message());
  std::filesystem::rename(tmp, link, ec);
  if (ec) return Status::IOError("cannot rename " + tmp.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

std::string StoreTimestamp(std::time_t now) {
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

Result<std::filesystem::path> CreateStoreRunDir(const std::filesystem::path& store,
                                                std::string_view workload, std::time_t now) {
  if (workload.empty() || workload.find('/') != std::string_view::npos || workload == "." ||
      workload == ".." || workload == "latest") {
    return Status::InvalidArgument("not a workload name for the store: '" + std::string(workload) +
                                   "'");
  }
  const std::filesystem::path parent = store / std::string(workload);
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) return Status::IOError("cannot create " + parent.string() + ": " + ec.message());
  const std::string stamp = StoreTimestamp(now);
  std::string name;
  for (int n = 1;; ++n) {
    if (n > kMaxRunsPerSecond) {
      return Status::IOError("more than " + std::to_string(kMaxRunsPerSecond) + " runs named " +
                             stamp + " in " + parent.string());
    }
    name = n == 1 ? stamp : stamp + "-" + std::to_string(n);
    // create_directory is exclusive: false when the name is taken, by a run of this process or
    // another's.
    if (std::filesystem::create_directory(parent / name, ec)) break;
    if (ec)
      return Status::IOError("cannot create " + (parent / name).string() + ": " + ec.message());
  }
  DIALKV_RETURN_IF_ERROR(ReplaceSymlink(name, parent / "latest"));
  DIALKV_RETURN_IF_ERROR(
      ReplaceSymlink(std::filesystem::path(std::string(workload)) / name, store / "latest"));
  return parent / name;
}

}  // namespace dialkv::jepsen
