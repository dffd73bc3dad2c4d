// Fuzzes the client-token code of server/auth/token.h against the fixed secret kTokenSecret, at
// the fixed time kNowS.
//
// Input: byte 0 picks what the rest is.
//   even: a token as a client sends it, verified as it is (parsing, the algorithm check and the
//         signature check; mutations of the signed seed tokens mostly stop at the signature);
//   odd:  the JSON of a token's payload, or of its header and payload separated by a NUL byte
//         (default header: HS256), signed here with the secret, then verified: this reaches the
//         checks of the header and of every claim, which only a signed token gets to.
// The rest is also read as a scope list (both separators) and as a duration.
//
// Checks: a token that verifies has a known, non-empty set of scopes and an expiry, is valid at
// kNowS, and its claims survive CreateToken and Verify unchanged.

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_secret.h"
#include "server/auth/token.h"
#include "server/common/check.h"

namespace dialkv::fuzz {
namespace {

constexpr std::string_view kDefaultHeader = R"({"alg":"HS256","typ":"JWT"})";

std::string Base64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (const char c : bytes) {
    bits = (bits << 8) | static_cast<unsigned char>(c);
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += kAlphabet[(bits >> count) & 63];
    }
  }
  if (count > 0) out += kAlphabet[(bits << (6 - count)) & 63];
  return out;
}

std::string Sign(std::string_view header, std::string_view payload) {
  std::string token = Base64Url(header) + "." + Base64Url(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_bytes = 0;
  DIALKV_CHECK(HMAC(EVP_sha256(), kTokenSecret.data(), static_cast<int>(kTokenSecret.size()),
                    reinterpret_cast<const unsigned char*>(token.data()), token.size(), mac,
                    &mac_bytes) != nullptr);
  return token + "." + Base64Url(std::string_view(reinterpret_cast<const char*>(mac), mac_bytes));
}

void CheckClaims(const auth::TokenVerifier& verifier, const auth::TokenClaims& claims) {
  constexpr auth::Scopes kKnown = auth::kScopeRead | auth::kScopeWrite | auth::kScopeAdmin;
  DIALKV_CHECK(claims.scopes != 0 && (claims.scopes & ~kKnown) == 0);
  DIALKV_CHECK(claims.expires_at_s > 0);
  DIALKV_CHECK(auth::CheckTime(claims, kNowS, verifier.leeway_s()).ok());
  DIALKV_CHECK(auth::Permit(claims, claims.scopes, "fuzz", claims.prefix.value_or("")).ok());
  const Result<std::string> again = auth::CreateToken(std::string(kTokenSecret), claims);
  if (!again.ok()) {
    // Only a token issued at or after its expiry cannot be made again.
    DIALKV_CHECK(claims.expires_at_s <= claims.issued_at_s);
    return;
  }
  const Result<auth::TokenClaims> same = verifier.Verify(again.value(), kNowS);
  DIALKV_CHECK(same.ok());
  DIALKV_CHECK(same->subject == claims.subject);
  DIALKV_CHECK(same->scopes == claims.scopes);
  DIALKV_CHECK(same->prefix == claims.prefix);
  DIALKV_CHECK(same->issued_at_s == claims.issued_at_s);
  DIALKV_CHECK(same->not_before_s == claims.not_before_s);
  DIALKV_CHECK(same->expires_at_s == claims.expires_at_s);
}

void Run(const uint8_t* data, size_t size) {
  if (size < 1) return;
  static const auth::TokenVerifier verifier{std::string(kTokenSecret)};
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);

  std::string token;
  if ((data[0] & 1) == 0) {
    token = std::string(rest);
  } else {
    const size_t nul = rest.find('\0');
    token = nul == std::string_view::npos ? Sign(kDefaultHeader, rest)
                                          : Sign(rest.substr(0, nul), rest.substr(nul + 1));
  }
  const Result<auth::TokenClaims> claims = verifier.Verify(token, kNowS);
  if (claims.ok()) {
    CheckClaims(verifier, claims.value());
  } else {
    DIALKV_CHECK(claims.status().code() == Code::kUnauthenticated);
  }

  for (const char separator : {' ', ','}) {
    const Result<auth::Scopes> scopes = auth::ParseScopes(rest, separator);
    if (scopes.ok()) {
      DIALKV_CHECK(scopes.value() != 0);
      DIALKV_CHECK(
          auth::ParseScopes(auth::FormatScopes(scopes.value(), separator), separator).value() ==
          scopes.value());
    }
  }
  const Result<int64_t> seconds = auth::ParseDurationSeconds(rest);
  if (seconds.ok()) DIALKV_CHECK(seconds.value() > 0);
}

}  // namespace
}  // namespace dialkv::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dialkv::fuzz::Run(data, size);
  return 0;
}
