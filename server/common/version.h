#pragma once
// What every binary says to --version, and what /metrics says in dialkv_build_info.

#include <string>
#include <string_view>

namespace dialkv {

// The release, e.g. "0.1.0".
std::string_view Version();
// The git commit the binary was built from (12 hex digits, "-modified" when the tree had
// uncommitted changes), or "unknown" when it was not built from a git checkout.
std::string_view GitCommit();
// "dialkv-server 0.1.0 (commit 0123456789ab)": the line --version prints.
std::string VersionLine(std::string_view program);

}  // namespace dialkv
