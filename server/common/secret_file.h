#pragma once
// Reading a shared secret (--cluster-secret-file, --auth-token-secret-file): the file's bytes,
// less one trailing newline, so `head -c 32 /dev/urandom | base64 > FILE` makes a good one.

#include <cstddef>
#include <string>
#include <string_view>

#include "dialkv/status.h"

namespace dialkv {

inline constexpr size_t kMinSecretFileBytes = 32;

// Errors: kInvalidArgument naming `flag` and the file: unreadable, or shorter than
// kMinSecretFileBytes (the message says how to make one).
Result<std::string> ReadSecretFile(const std::string& path, std::string_view flag);

}  // namespace dialkv
