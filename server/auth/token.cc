#include "server/auth/token.h"

#include <jwt.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "server/common/check.h"

namespace dialkv::auth {
namespace {

constexpr Scope kAllScopes[] = {kScopeRead, kScopeWrite, kScopeAdmin};
constexpr const char* kPrefixClaim = "dialkv:prefix";
// 9999-12-31T23:59:59Z: later times are not times (and would overflow with the leeway added).
constexpr long kMaxEpochSeconds = 253'402'300'799;

struct JwtFree {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

struct StringFree {
  void operator()(char* s) const { free(s); }  // NOLINT(cppcoreguidelines-no-malloc)
};

std::string Utc(int64_t seconds) {
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// An integer claim: nullopt when absent. Errors: kUnauthenticated when present but not a
// positive integer.
Result<std::optional<int64_t>> IntClaim(jwt_t* jwt, const char* name) {
  // jwt_get_grant returns strings only; a number claim reads as null, as does an absent one.
  if (jwt_get_grant(jwt, name) != nullptr) {
    return Status::Unauthenticated(std::string("the token's '") + name +
                                   "' claim is a string; it must be seconds since the epoch");
  }
  std::unique_ptr<char, StringFree> json(jwt_get_grants_json(jwt, name));
  if (json == nullptr) return std::optional<int64_t>();
  errno = 0;
  const long value = jwt_get_grant_int(jwt, name);
  if (errno != 0 || value <= 0 || value > kMaxEpochSeconds) {
    return Status::Unauthenticated(std::string("the token's '") + name +
                                   "' claim must be a positive number of seconds since the epoch");
  }
  return std::optional<int64_t>(value);
}

// Decodes base64url without padding (RFC 7515). nullopt for a character outside the alphabet.
std::optional<std::string> Base64UrlDecode(std::string_view text) {
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    int value = 0;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '-') {
      value = 62;
    } else if (c == '_') {
      value = 63;
    } else {
      return std::nullopt;
    }
    bits = (bits << 6) | static_cast<uint32_t>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

// The `alg` of a JWT's header. Errors: kUnauthenticated when the token is not three
// base64url parts or its header is not a JSON object with a string `alg`.
Result<std::string> HeaderAlgorithm(std::string_view token) {
  const Status malformed = Status::Unauthenticated(
      "the token is not a JWT (three base64url parts: header.claims.signature)");
  const size_t first_dot = token.find('.');
  if (first_dot == std::string_view::npos ||
      token.find('.', first_dot + 1) == std::string_view::npos) {
    return malformed;
  }
  const std::optional<std::string> header = Base64UrlDecode(token.substr(0, first_dot));
  if (!header.has_value()) return malformed;
  const nlohmann::json parsed = nlohmann::json::parse(*header, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || !parsed.contains("alg") || !parsed["alg"].is_string()) {
    return Status::Unauthenticated("the token's header names no algorithm");
  }
  return parsed["alg"].get<std::string>();
}

}  // namespace

std::string_view ScopeName(Scope scope) {
  switch (scope) {
    case kScopeRead:
      return "kv:read";
    case kScopeWrite:
      return "kv:write";
    case kScopeAdmin:
      return "admin";
  }
  return "?";
}

Result<Scopes> ParseScopes(std::string_view list, char separator) {
  Scopes scopes = 0;
  while (!list.empty()) {
    const size_t end = list.find(separator);
    const std::string_view item = list.substr(0, end);
    list = end == std::string_view::npos ? std::string_view() : list.substr(end + 1);
    if (item.empty()) continue;
    bool known = false;
    for (Scope s : kAllScopes) {
      if (item == ScopeName(s)) {
        scopes |= s;
        known = true;
      }
    }
    if (!known) {
      return Status::InvalidArgument("unknown scope '" + std::string(item) +
                                     "'; the scopes are kv:read, kv:write and admin");
    }
  }
  if (scopes == 0) {
    return Status::InvalidArgument("no scope given; the scopes are kv:read, kv:write and admin");
  }
  return scopes;
}

std::string FormatScopes(Scopes scopes, char separator) {
  std::string out;
  for (Scope s : kAllScopes) {
    if ((scopes & s) == 0) continue;
    if (!out.empty()) out.push_back(separator);
    out.append(ScopeName(s));
  }
  return out;
}

namespace {

// "the token of 'billing'", for refusals only: Permit runs on every request.
std::string Holder(const TokenClaims& claims) {
  return claims.subject.empty() ? "the token" : "the token of '" + claims.subject + "'";
}

}  // namespace

Status Permit(const TokenClaims& claims, Scopes required, std::string_view operation,
              std::string_view key) {
  if ((claims.scopes & required) != required) {
    return Status::PermissionDenied(
        Holder(claims) + " lacks scope " +
        FormatScopes(static_cast<Scopes>(required & ~claims.scopes), ',') + ", which " +
        std::string(operation) + " needs (it has " + FormatScopes(claims.scopes, ',') + ")");
  }
  if (claims.prefix.has_value() && !key.starts_with(*claims.prefix)) {
    return Status::PermissionDenied(std::string(operation) + " refused: " + Holder(claims) +
                                    " may touch only keys that start with '" + *claims.prefix +
                                    "'");
  }
  return Status::Ok();
}

Status CheckTime(const TokenClaims& claims, int64_t now_s, int64_t leeway_s) {
  if (now_s > claims.expires_at_s + leeway_s) {
    return Status::Unauthenticated("the token expired at " + Utc(claims.expires_at_s) +
                                   "; create a fresh one (dialkv token create)");
  }
  if (claims.not_before_s > 0 && now_s + leeway_s < claims.not_before_s) {
    return Status::Unauthenticated("the token is not valid before " + Utc(claims.not_before_s));
  }
  return Status::Ok();
}

TokenVerifier::TokenVerifier(std::string secret, int64_t leeway_s)
    : secret_(std::move(secret)), leeway_s_(leeway_s) {
  DIALKV_CHECK(secret_.size() >= kMinSecretBytes);
  DIALKV_CHECK(leeway_s_ >= 0);
}

Result<TokenClaims> TokenVerifier::Verify(std::string_view token, int64_t now_s) const {
  if (token.empty()) return Status::Unauthenticated("the token is empty");
  if (token.size() > kMaxTokenBytes) {
    return Status::Unauthenticated("a token of " + std::to_string(token.size()) +
                                   " bytes is over the limit of " + std::to_string(kMaxTokenBytes) +
                                   " bytes");
  }
  const std::string text(token);  // libjwt wants a NUL-terminated string.
  if (text.find('\0') != std::string::npos) {
    return Status::Unauthenticated("the token is not a JWT (it holds a NUL byte)");
  }
  // The header first: its algorithm decides whether the signature is looked at at all, so a
  // token claiming another algorithm never reaches the library's verification.
  Result<std::string> alg = HeaderAlgorithm(text);
  if (!alg.ok()) return alg.status();
  if (*alg != "HS256") {
    // The name comes from whoever sent the token: shown only when it is a short plain word.
    const bool plain = alg->size() <= 16 && std::all_of(alg->begin(), alg->end(), [](char c) {
                         return std::isalnum(static_cast<unsigned char>(c)) != 0;
                       });
    return Status::Unauthenticated("the token is signed with " +
                                   (plain ? *alg : std::string("an unknown algorithm")) +
                                   "; this cluster accepts HS256 tokens only");
  }
  jwt_t* raw = nullptr;
  if (jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(secret_.data()),
                 static_cast<int>(secret_.size())) != 0 ||
      raw == nullptr) {
    return Status::Unauthenticated(
        "the token's signature does not match: it was not made with this cluster's "
        "--auth-token-secret-file");
  }
  JwtPtr jwt(raw);
  if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256) {
    return Status::Unauthenticated("the token is not signed with HS256");
  }

  TokenClaims claims;
  Result<std::optional<int64_t>> exp = IntClaim(jwt.get(), "exp");
  if (!exp.ok()) return exp.status();
  if (!exp->has_value()) {
    return Status::Unauthenticated("the token has no 'exp' claim; every token must expire");
  }
  claims.expires_at_s = **exp;
  Result<std::optional<int64_t>> nbf = IntClaim(jwt.get(), "nbf");
  if (!nbf.ok()) return nbf.status();
  claims.not_before_s = nbf->value_or(0);
  Result<std::optional<int64_t>> iat = IntClaim(jwt.get(), "iat");
  if (!iat.ok()) return iat.status();
  claims.issued_at_s = iat->value_or(0);

  const char* scope = jwt_get_grant(jwt.get(), "scope");
  if (scope == nullptr) {
    return Status::Unauthenticated(
        "the token has no 'scope' claim (a string of kv:read, kv:write, admin)");
  }
  Result<Scopes> scopes = ParseScopes(scope, ' ');
  if (!scopes.ok())
    return Status::Unauthenticated("the token's scope: " + scopes.status().message());
  claims.scopes = *scopes;

  if (const char* sub = jwt_get_grant(jwt.get(), "sub"); sub != nullptr) claims.subject = sub;
  if (const char* prefix = jwt_get_grant(jwt.get(), kPrefixClaim); prefix != nullptr) {
    claims.prefix = prefix;
  } else if (std::unique_ptr<char, StringFree> json(jwt_get_grants_json(jwt.get(), kPrefixClaim));
             json != nullptr) {
    // Present but not a string: refusing is safer than reading it as "every key".
    return Status::Unauthenticated(std::string("the token's '") + kPrefixClaim +
                                   "' claim must be a string");
  }
  if (Status valid = CheckTime(claims, now_s, leeway_s_); !valid.ok()) return valid;
  return claims;
}

Result<std::string> CreateToken(const std::string& secret, const TokenClaims& claims) {
  if (secret.size() < kMinSecretBytes) {
    return Status::InvalidArgument("the secret holds " + std::to_string(secret.size()) +
                                   " bytes; it needs at least " + std::to_string(kMinSecretBytes));
  }
  if (claims.scopes == 0) return Status::InvalidArgument("a token needs at least one scope");
  if (claims.expires_at_s <= claims.issued_at_s) {
    return Status::InvalidArgument("a token must expire after it is issued");
  }
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0 || raw == nullptr) return Status::Internal("jwt_new failed");
  JwtPtr jwt(raw);
  int rc = 0;
  if (!claims.subject.empty()) rc |= jwt_add_grant(jwt.get(), "sub", claims.subject.c_str());
  rc |= jwt_add_grant(jwt.get(), "scope", FormatScopes(claims.scopes, ' ').c_str());
  if (claims.prefix.has_value()) {
    rc |= jwt_add_grant(jwt.get(), kPrefixClaim, claims.prefix->c_str());
  }
  if (claims.issued_at_s > 0) rc |= jwt_add_grant_int(jwt.get(), "iat", claims.issued_at_s);
  if (claims.not_before_s > 0) rc |= jwt_add_grant_int(jwt.get(), "nbf", claims.not_before_s);
  rc |= jwt_add_grant_int(jwt.get(), "exp", claims.expires_at_s);
  rc |= jwt_set_alg(jwt.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret.data()),
                    static_cast<int>(secret.size()));
  if (rc != 0) return Status::Internal("cannot build the token's claims");
  std::unique_ptr<char, StringFree> encoded(jwt_encode_str(jwt.get()));
  if (encoded == nullptr) return Status::Internal("cannot sign the token");
  return std::string(encoded.get());
}

Result<int64_t> ParseDurationSeconds(std::string_view text) {
  const Status bad = Status::InvalidArgument("'" + std::string(text) +
                                             "' is not a duration; write a number and a unit "
                                             "(s, m, h or d), e.g. 90s, 15m, 1h, 7d");
  if (text.size() < 2) return bad;
  int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      return bad;
  }
  const std::string_view digits = text.substr(0, text.size() - 1);
  int64_t count = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
  if (ec != std::errc() || end != digits.data() + digits.size() || count <= 0 ||
      count > std::numeric_limits<int64_t>::max() / unit / 2) {
    return bad;
  }
  return count * unit;
}

}  // namespace dialkv::auth
