#include "server/common/secret_file.h"

#include <fstream>
#include <sstream>

namespace dialkv {

Result<std::string> ReadSecretFile(const std::string& path, std::string_view flag) {
  const std::string name(flag);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(name + ": cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  if (!secret.empty() && secret.back() == '\n') secret.pop_back();
  if (secret.size() < kMinSecretFileBytes) {
    return Status::InvalidArgument(
        name + ": " + path + " holds " + std::to_string(secret.size()) +
        " bytes; a secret needs at least " + std::to_string(kMinSecretFileBytes) +
        " (make one with: head -c 32 /dev/urandom | base64 > " + path + ")");
  }
  return secret;
}

}  // namespace dialkv
