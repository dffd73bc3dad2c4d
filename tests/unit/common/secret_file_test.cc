#include "server/common/secret_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tests/testutil/status_matchers.h"

namespace dialkv {
namespace {

using ::testing::HasSubstr;

TEST(SecretFileTest, ShortOrMissingSecretFilesAreRefusedWithHowToMakeOne) {
  const Result<std::string> missing = ReadSecretFile("/nonexistent/secret", "--some-secret-file");
  ASSERT_CODE(missing, Code::kInvalidArgument);
  EXPECT_THAT(missing.status().message(), HasSubstr("--some-secret-file"));
  const std::string path = ::testing::TempDir() + "/short-secret";
  { std::ofstream(path) << "too short\n"; }
  Result<std::string> shorter = ReadSecretFile(path, "--some-secret-file");
  ASSERT_CODE(shorter, Code::kInvalidArgument);
  EXPECT_THAT(shorter.status().message(), HasSubstr("at least 32"));
  EXPECT_THAT(shorter.status().message(), HasSubstr("head -c 32 /dev/urandom"));
  { std::ofstream(path) << std::string(44, 'a') << "\n"; }
  Result<std::string> secret = ReadSecretFile(path, "--some-secret-file");
  ASSERT_OK(secret);
  EXPECT_EQ(*secret, std::string(44, 'a'));  // Without the trailing newline.
}

}  // namespace
}  // namespace dialkv
