#include "server/common/version.h"

#include "dialkv/version.h"  // Generated (cmake/version.cmake).

namespace dialkv {

std::string_view Version() { return DIALKV_VERSION; }

std::string_view GitCommit() { return DIALKV_GIT_COMMIT; }

std::string VersionLine(std::string_view program) {
  return std::string(program) + " " + std::string(Version()) + " (commit " +
         std::string(GitCommit()) + ")";
}

}  // namespace dialkv
