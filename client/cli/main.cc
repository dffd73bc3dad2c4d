// dialkv: the command-line client (DESIGN.md "Command lines"). Parses flags and calls
// dialkv::Client; values go to stdout as raw bytes, errors to stderr as one line.

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dialkv/client.h"

namespace {

// Exit codes; scripts rely on them.
constexpr int kExitOk = 0;
constexpr int kExitNotFound = 1;
constexpr int kExitUsage = 2;          // Bad usage or INVALID_ARGUMENT.
constexpr int kExitUnavailable = 3;    // Definitely not applied; safe to retry.
constexpr int kExitIndeterminate = 4;  // UNKNOWN (a write may have been applied) or TIMEOUT.
constexpr int kExitOtherError = 5;

constexpr uint32_t kMaxTimeoutMs = 24 * 3600 * 1000;
// A value read from stdin may be at most this large: the default frame limit of the nodes.
constexpr size_t kMaxStdinValueBytes = 16u << 20;

constexpr const char* kFooter = R"(Exit codes:
  0  ok
  1  not found (get)
  2  bad usage or INVALID_ARGUMENT
  3  UNAVAILABLE: definitely not applied, safe to retry
  4  UNKNOWN (a write that may have been applied) or TIMEOUT (a read)
  5  any other error
Values are written to stdout as raw bytes, without a trailing newline.
Errors are written to stderr as one line: "dialkv: CODE: message".)";

// Flags that apply to every subcommand. A consistency mode (--mode cp|ap) joins them later.
struct GlobalFlags {
  std::string endpoints = "127.0.0.1:7379";
  uint32_t timeout_ms = 5000;
};

struct KeyValueArgs {
  std::string key;
  std::string value;  // For put; "-" reads it from stdin.
};

int ExitCode(dialkv::Code code) {
  switch (code) {
    case dialkv::Code::kOk:
      return kExitOk;
    case dialkv::Code::kNotFound:
      return kExitNotFound;
    case dialkv::Code::kInvalidArgument:
      return kExitUsage;
    case dialkv::Code::kUnavailable:
      return kExitUnavailable;
    case dialkv::Code::kUnknown:
    case dialkv::Code::kTimeout:
      return kExitIndeterminate;
    default:
      return kExitOtherError;
  }
}

// Prints "dialkv: <text>" on one line of stderr.
void PrintError(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::fprintf(stderr, "dialkv: %s\n", text.c_str());
}

int Fail(const dialkv::Status& status) {
  PrintError(status.ToString());
  return ExitCode(status.code());
}

std::vector<std::string> SplitEndpoints(std::string_view text) {
  std::vector<std::string> out;
  while (true) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    out.emplace_back(item);
    if (comma == std::string_view::npos) return out;
    text.remove_prefix(comma + 1);
  }
}

// Reads all of stdin as raw bytes.
dialkv::Result<std::string> ReadStdin() {
  std::string value;
  char buffer[64 * 1024];
  while (true) {
    const size_t n = std::fread(buffer, 1, sizeof(buffer), stdin);
    value.append(buffer, n);
    if (value.size() > kMaxStdinValueBytes) {
      return dialkv::Status::InvalidArgument("value on stdin is over " +
                                             std::to_string(kMaxStdinValueBytes) + " bytes");
    }
    if (n < sizeof(buffer)) break;
  }
  if (std::ferror(stdin)) {
    return dialkv::Status::IOError(std::string("cannot read stdin: ") + std::strerror(errno));
  }
  return value;
}

int WriteStdout(const std::string& bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() ||
      std::fflush(stdout) != 0) {
    return Fail(dialkv::Status::IOError(std::string("cannot write the value to stdout: ") +
                                        std::strerror(errno)));
  }
  return kExitOk;
}

int RunGet(dialkv::Client& client, const KeyValueArgs& args) {
  dialkv::Result<dialkv::GetResult> got = client.Get(args.key);
  if (!got.ok()) return Fail(got.status());
  return WriteStdout(got->value);
}

int RunPut(dialkv::Client& client, const KeyValueArgs& args) {
  std::string value = args.value;
  if (value == "-") {
    dialkv::Result<std::string> in = ReadStdin();
    if (!in.ok()) return Fail(in.status());
    value = std::move(in).value();
  }
  dialkv::Result<dialkv::WriteResult> put = client.Put(args.key, value);
  return put.ok() ? kExitOk : Fail(put.status());
}

int RunDelete(dialkv::Client& client, const KeyValueArgs& args) {
  dialkv::Result<dialkv::WriteResult> deleted = client.Delete(args.key);
  return deleted.ok() ? kExitOk : Fail(deleted.status());
}

int Main(int argc, char** argv) {
  CLI::App app("dialkv: read and write keys of a dialkv cluster.", "dialkv");
  app.footer(kFooter);
  app.require_subcommand(1);

  GlobalFlags flags;
  app.add_option("--endpoints", flags.endpoints,
                 "Comma-separated host:port client addresses of the nodes to use, tried in "
                 "order with failover")
      ->envname("DIALKV_ENDPOINTS")
      ->capture_default_str();
  app.add_option("--timeout-ms", flags.timeout_ms,
                 "Deadline of the request in milliseconds; past it a read fails with TIMEOUT "
                 "and a write that was sent with UNKNOWN")
      ->envname("DIALKV_TIMEOUT_MS")
      ->check(CLI::Range(uint32_t{1}, kMaxTimeoutMs))
      ->capture_default_str();

  KeyValueArgs args;
  CLI::App* get = app.add_subcommand("get", "Print the value of KEY to stdout (exit 1: not found)");
  get->add_option("KEY", args.key, "The key")->required();
  CLI::App* put = app.add_subcommand("put", "Write VALUE under KEY");
  put->add_option("KEY", args.key, "The key")->required();
  put->add_option("VALUE", args.value, "The value; - reads it from stdin as raw bytes")->required();
  CLI::App* del = app.add_subcommand("del", "Delete KEY");
  del->add_option("KEY", args.key, "The key")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help.
    PrintError(std::string("usage: ") + e.what() + " (see dialkv --help)");
    return kExitUsage;
  }

  dialkv::ClientOptions options;
  options.endpoints = SplitEndpoints(flags.endpoints);
  options.timeout_ms = flags.timeout_ms;
  dialkv::Result<std::unique_ptr<dialkv::Client>> client =
      dialkv::Client::Create(std::move(options));
  if (!client.ok()) return Fail(client.status());

  if (get->parsed()) return RunGet(**client, args);
  if (put->parsed()) return RunPut(**client, args);
  if (del->parsed()) return RunDelete(**client, args);
  PrintError("usage: no subcommand (see dialkv --help)");
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    PrintError(std::string("INTERNAL: ") + e.what());
  } catch (...) {
    PrintError("INTERNAL: unknown exception");
  }
  return kExitOtherError;
}
