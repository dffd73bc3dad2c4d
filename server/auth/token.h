#pragma once
// Client tokens: JSON Web Tokens (RFC 7519) signed with HMAC-SHA256 under a secret the nodes
// share (--auth-token-secret-file). A token says who holds it (`sub`), what it may do
// (`scope`: a space-separated list of kv:read, kv:write and admin) and, optionally, which keys
// it may touch (`dialkv:prefix`: only keys that start with it). It must carry `exp` and may
// carry `nbf` (seconds since the Unix epoch); both are checked with a leeway for clocks that
// differ a little.
//
// Verification refuses anything but HS256 (`alg: none` and public-key algorithms included: a
// token whose header names another algorithm is refused before its signature is looked at),
// tokens over kMaxTokenBytes, unknown scopes and claims of the wrong type. Nothing a token
// says is trusted before its signature checks out.
//
// Which operation needs which scope is the caller's business (api/client_auth.h).
//
// Thread-safe: a TokenVerifier is const after construction.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dialkv/status.h"
#include "server/common/secret_file.h"

namespace dialkv::auth {

// Scopes as bits, so a set of them is one integer.
enum Scope : uint8_t {
  kScopeRead = 1,   // kv:read: get, status.
  kScopeWrite = 2,  // kv:write: put, del.
  kScopeAdmin = 4,  // admin: repair, fault injection, reading one node's own copy.
};
using Scopes = uint8_t;

// "kv:read", "kv:write" or "admin".
std::string_view ScopeName(Scope scope);
// Parses a list of scope names separated by `separator` (',' on command lines, ' ' in a
// token), empty items ignored. Errors: kInvalidArgument naming an unknown scope or saying the
// list is empty.
Result<Scopes> ParseScopes(std::string_view list, char separator);
// The names of `scopes`, separated by `separator`, in the order read, write, admin.
std::string FormatScopes(Scopes scopes, char separator);

struct TokenClaims {
  std::string subject;                // `sub`; may be empty.
  Scopes scopes = 0;                  // `scope`.
  std::optional<std::string> prefix;  // `dialkv:prefix`: the keys the token may touch.
  int64_t issued_at_s = 0;            // `iat`; 0 when absent.
  int64_t not_before_s = 0;           // `nbf`; 0 when absent.
  int64_t expires_at_s = 0;           // `exp`; always set.
};

inline constexpr size_t kMinSecretBytes = kMinSecretFileBytes;
inline constexpr size_t kMaxTokenBytes = 8192;
inline constexpr int64_t kDefaultLeewaySeconds = 30;

// Whether `claims` let a request with the required scope touch `key` (empty: a request that
// names no key). Errors: kPermissionDenied saying which scope is missing or that the key is
// outside the prefix; `operation` ("put") names the request in the message.
Status Permit(const TokenClaims& claims, Scopes required, std::string_view operation,
              std::string_view key);

// Whether a verified token is still valid at `now_s` (seconds since the Unix epoch).
// Errors: kUnauthenticated: expired, or not valid yet (with the time in the message).
Status CheckTime(const TokenClaims& claims, int64_t now_s, int64_t leeway_s);

class TokenVerifier {
 public:
  // REQUIRES: secret.size() >= kMinSecretBytes.
  explicit TokenVerifier(std::string secret, int64_t leeway_s = kDefaultLeewaySeconds);

  // The claims of `token` when it is well formed, signed HS256 with this secret and valid at
  // `now_s` (seconds since the Unix epoch, within the leeway).
  // Errors: kUnauthenticated, with a message saying what is wrong (too long, not a JWT, wrong
  // algorithm, bad signature, expired, not yet valid, no or a bad `scope`, `exp` or other
  // claim) and never anything derived from the secret.
  Result<TokenClaims> Verify(std::string_view token, int64_t now_s) const;

  int64_t leeway_s() const { return leeway_s_; }

 private:
  const std::string secret_;
  const int64_t leeway_s_;
};

// A token for `claims`, signed HS256 with `secret` (`iat`, `nbf` and `dialkv:prefix` are
// written only when set). Errors: kInvalidArgument (a secret shorter than kMinSecretBytes, no
// scope, exp not after iat); kInternal when the JWT library fails.
Result<std::string> CreateToken(const std::string& secret, const TokenClaims& claims);

// Parses a duration such as "90s", "15m", "1h", "7d" (a number and one unit) into seconds.
// Errors: kInvalidArgument saying the accepted form.
Result<int64_t> ParseDurationSeconds(std::string_view text);

}  // namespace dialkv::auth
