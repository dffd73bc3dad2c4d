#include "server/auth/token.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <string>

#include "tests/testutil/status_matchers.h"

namespace dialkv::auth {
namespace {

using ::testing::HasSubstr;

const std::string kSecret(40, 's');
constexpr int64_t kNow = 1'800'000'000;

std::string Base64Url(std::string_view bytes) {
  static constexpr char kDigits[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : bytes) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out.push_back(kDigits[(bits >> count) & 63]);
    }
  }
  if (count > 0) out.push_back(kDigits[(bits << (6 - count)) & 63]);
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &size);
  return std::string(reinterpret_cast<const char*>(mac), size);
}

// A token built by hand: any header, any claims, signed HMAC-SHA256 with `key` whatever the
// header says (what an attacker who knows or guesses a key would send).
std::string HandMade(std::string_view header_json, std::string_view claims_json,
                     std::string_view key) {
  const std::string signing_input = Base64Url(header_json) + "." + Base64Url(claims_json);
  return signing_input + "." + Base64Url(HmacSha256(key, signing_input));
}

TokenClaims Claims(Scopes scopes) {
  TokenClaims claims;
  claims.subject = "app";
  claims.scopes = scopes;
  claims.issued_at_s = kNow - 10;
  claims.expires_at_s = kNow + 3600;
  return claims;
}

std::string Make(const TokenClaims& claims) {
  Result<std::string> token = CreateToken(kSecret, claims);
  EXPECT_OK(token);
  return token.ok() ? *token : std::string();
}

Status Refusal(std::string_view token) {
  Result<TokenClaims> verified = TokenVerifier(kSecret).Verify(token, kNow);
  return verified.ok() ? Status::Ok() : verified.status();
}

TEST(TokenTest, ATokenItMadeVerifiesWithEveryClaim) {
  TokenClaims claims = Claims(kScopeRead | kScopeWrite);
  claims.prefix = "tenant-a/";
  claims.not_before_s = kNow - 5;
  Result<TokenClaims> verified = TokenVerifier(kSecret).Verify(Make(claims), kNow);
  ASSERT_OK(verified);
  EXPECT_EQ(verified->subject, "app");
  EXPECT_EQ(verified->scopes, kScopeRead | kScopeWrite);
  EXPECT_EQ(verified->prefix, std::optional<std::string>("tenant-a/"));
  EXPECT_EQ(verified->expires_at_s, kNow + 3600);
  EXPECT_EQ(verified->not_before_s, kNow - 5);
  EXPECT_EQ(verified->issued_at_s, kNow - 10);
}

TEST(TokenTest, ExpiryAndNotBeforeAreCheckedWithTheLeeway) {
  TokenClaims expired = Claims(kScopeRead);
  expired.issued_at_s = kNow - 7200;
  expired.expires_at_s = kNow - 31;
  const Status refused = Refusal(Make(expired));
  ASSERT_CODE(refused, Code::kUnauthenticated);
  EXPECT_THAT(refused.message(), HasSubstr("expired"));
  expired.expires_at_s = kNow - 29;  // Within the 30 s leeway.
  EXPECT_OK(Refusal(Make(expired)));
  EXPECT_CODE(TokenVerifier(kSecret, 0).Verify(Make(expired), kNow), Code::kUnauthenticated);

  TokenClaims early = Claims(kScopeRead);
  early.not_before_s = kNow + 31;
  const Status not_yet = Refusal(Make(early));
  ASSERT_CODE(not_yet, Code::kUnauthenticated);
  EXPECT_THAT(not_yet.message(), HasSubstr("not valid before"));
  early.not_before_s = kNow + 29;
  EXPECT_OK(Refusal(Make(early)));
}

TEST(TokenTest, AnotherSecretsSignatureIsRefused) {
  Result<std::string> other = CreateToken(std::string(40, 'x'), Claims(kScopeAdmin));
  ASSERT_OK(other);
  const Status refused = Refusal(*other);
  ASSERT_CODE(refused, Code::kUnauthenticated);
  EXPECT_THAT(refused.message(), HasSubstr("--auth-token-secret-file"));
}

TEST(TokenTest, AnyAlgorithmButHs256IsRefused) {
  const std::string claims = R"({"scope":"admin","exp":)" + std::to_string(kNow + 60) + "}";
  // alg none: no signature at all.
  const std::string none =
      Base64Url(R"({"alg":"none","typ":"JWT"})") + "." + Base64Url(claims) + ".";
  ASSERT_CODE(Refusal(none), Code::kUnauthenticated);
  // RS256 in the header, HMAC-signed with the secret: the confusion where a verifier that
  // trusts the header would check an HMAC with the key as if it were a public key.
  const Status rs256 = Refusal(HandMade(R"({"alg":"RS256","typ":"JWT"})", claims, kSecret));
  ASSERT_CODE(rs256, Code::kUnauthenticated);
  EXPECT_THAT(rs256.message(), HasSubstr("HS256"));
  // What the sender put in the header is echoed only when it is a short plain word.
  const Status odd = Refusal(HandMade(R"({"alg":"x\nFORGED LOG LINE"})", claims, kSecret));
  ASSERT_CODE(odd, Code::kUnauthenticated);
  EXPECT_THAT(odd.message(), ::testing::Not(HasSubstr("FORGED")));
  ASSERT_CODE(Refusal(HandMade(R"({"alg":"HS512","typ":"JWT"})", claims, kSecret)),
              Code::kUnauthenticated);
  // The same claims with the right header verify: the refusals above are the algorithm's.
  EXPECT_OK(Refusal(HandMade(R"({"alg":"HS256","typ":"JWT"})", claims, kSecret)));
}

TEST(TokenTest, MalformedTokensAreRefused) {
  const std::string good = Make(Claims(kScopeRead));
  EXPECT_CODE(Refusal(""), Code::kUnauthenticated);
  EXPECT_CODE(Refusal(good.substr(0, good.size() / 2)), Code::kUnauthenticated);  // Truncated.
  EXPECT_CODE(Refusal(good.substr(0, good.rfind('.'))), Code::kUnauthenticated);  // No signature.
  EXPECT_CODE(Refusal("!!!!.@@@@.####"), Code::kUnauthenticated);                 // Bad base64.
  EXPECT_CODE(Refusal("not a token"), Code::kUnauthenticated);
  EXPECT_CODE(Refusal(std::string("abc\0def", 7)), Code::kUnauthenticated);
  const Status huge = Refusal(std::string(1 << 20, 'a'));  // 1 MiB.
  ASSERT_CODE(huge, Code::kUnauthenticated);
  EXPECT_THAT(huge.message(), HasSubstr("over the limit"));
  std::string flipped = good;
  flipped[flipped.size() - 2] = flipped[flipped.size() - 2] == 'A' ? 'B' : 'A';
  EXPECT_CODE(Refusal(flipped), Code::kUnauthenticated);
}

TEST(TokenTest, ClaimsOfTheWrongShapeAreRefused) {
  const std::string exp = std::to_string(kNow + 60);
  const auto signed_claims = [&](const std::string& claims) {
    return HandMade(R"({"alg":"HS256","typ":"JWT"})", claims, kSecret);
  };
  const Status no_scope = Refusal(signed_claims(R"({"sub":"x","exp":)" + exp + "}"));
  ASSERT_CODE(no_scope, Code::kUnauthenticated);
  EXPECT_THAT(no_scope.message(), HasSubstr("scope"));
  EXPECT_CODE(Refusal(signed_claims(R"({"scope":"root","exp":)" + exp + "}")),
              Code::kUnauthenticated);
  EXPECT_CODE(Refusal(signed_claims(R"({"scope":["admin"],"exp":)" + exp + "}")),
              Code::kUnauthenticated);
  const Status no_exp = Refusal(signed_claims(R"({"scope":"admin"})"));
  ASSERT_CODE(no_exp, Code::kUnauthenticated);
  EXPECT_THAT(no_exp.message(), HasSubstr("exp"));
  EXPECT_CODE(Refusal(signed_claims(R"({"scope":"admin","exp":")" + exp + "\"}")),
              Code::kUnauthenticated);
  EXPECT_CODE(Refusal(signed_claims(R"({"scope":"kv:read","dialkv:prefix":7,"exp":)" + exp + "}")),
              Code::kUnauthenticated);
  // An exp beyond any real time is refused, not added to the leeway past the type's range.
  EXPECT_CODE(Refusal(signed_claims(R"({"scope":"admin","exp":9223372036854775807})")),
              Code::kUnauthenticated);
}

TEST(TokenTest, PermitChecksTheScopeAndThePrefix) {
  TokenClaims reader = Claims(kScopeRead);
  EXPECT_OK(Permit(reader, kScopeRead, "get", "k"));
  const Status write = Permit(reader, kScopeWrite, "put", "k");
  ASSERT_CODE(write, Code::kPermissionDenied);
  EXPECT_THAT(write.message(), HasSubstr("lacks scope kv:write, which put needs"));
  EXPECT_CODE(Permit(reader, kScopeAdmin, "repair", ""), Code::kPermissionDenied);

  TokenClaims tenant = Claims(kScopeRead | kScopeWrite);
  tenant.prefix = "a/";
  EXPECT_OK(Permit(tenant, kScopeWrite, "put", "a/x"));
  const Status outside = Permit(tenant, kScopeWrite, "put", "b/x");
  ASSERT_CODE(outside, Code::kPermissionDenied);
  EXPECT_THAT(outside.message(), HasSubstr("start with 'a/'"));
}

TEST(TokenTest, ScopesAndDurationsParseOrSayWhatIsAccepted) {
  EXPECT_EQ(ParseScopes("kv:read,kv:write", ',').value(), kScopeRead | kScopeWrite);
  EXPECT_EQ(ParseScopes("admin", ',').value(), kScopeAdmin);
  EXPECT_CODE(ParseScopes("kv:read,superuser", ','), Code::kInvalidArgument);
  EXPECT_CODE(ParseScopes("", ','), Code::kInvalidArgument);
  EXPECT_EQ(FormatScopes(kScopeAdmin | kScopeRead, ' '), "kv:read admin");
  EXPECT_EQ(ParseDurationSeconds("90s").value(), 90);
  EXPECT_EQ(ParseDurationSeconds("15m").value(), 900);
  EXPECT_EQ(ParseDurationSeconds("1h").value(), 3600);
  EXPECT_EQ(ParseDurationSeconds("7d").value(), 7 * 86400);
  EXPECT_CODE(ParseDurationSeconds("1"), Code::kInvalidArgument);
  EXPECT_CODE(ParseDurationSeconds("-1h"), Code::kInvalidArgument);
  EXPECT_CODE(ParseDurationSeconds("1y"), Code::kInvalidArgument);
  EXPECT_CODE(CreateToken("short", Claims(kScopeRead)), Code::kInvalidArgument);
}

}  // namespace
}  // namespace dialkv::auth
