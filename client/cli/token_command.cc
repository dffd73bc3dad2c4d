#include "client/cli/token_command.h"

#include <chrono>

#include "client/cli/output.h"
#include "server/auth/token.h"
#include "server/common/secret_file.h"

namespace dialkv::cli {

CLI::App* AddTokenCommand(CLI::App* app, TokenArgs* args) {
  CLI::App* token =
      app->add_subcommand("token", "Make client tokens (see dialkv token create --help)");
  token->require_subcommand(1);
  CLI::App* create = token->add_subcommand(
      "create",
      "Print a token signed with the cluster's token secret (the file the nodes were given as "
      "--auth-token-secret-file). Keep it like a password: whoever holds it may do what its "
      "scopes allow until it expires");
  create->add_option("--secret-file", args->secret_file, "The token secret file")->required();
  create
      ->add_option("--scopes", args->scopes,
                   "Comma-separated: kv:read (get, status), kv:write (put, del), admin (repair, "
                   "fault injection, inspect)")
      ->required();
  create
      ->add_option("--ttl", args->ttl,
                   "How long the token is valid: a number and s, m, h or d (90s, 15m, 1h, 7d)")
      ->capture_default_str();
  create
      ->add_option_function<std::string>(
          "--prefix",
          [args](const std::string& prefix) {
            args->prefix = prefix;
            args->has_prefix = true;
          },
          "Only keys that start with this prefix may be read or written with the token")
      ->type_name("TEXT");
  create->add_option("--subject", args->subject,
                     "Who holds the token (its 'sub' claim), as the nodes log it");
  return token;
}

int RunTokenCreate(const TokenArgs& args) {
  Result<std::string> secret = ReadSecretFile(args.secret_file, "--secret-file");
  if (!secret.ok()) return Fail(secret.status());
  Result<auth::Scopes> scopes = auth::ParseScopes(args.scopes, ',');
  if (!scopes.ok()) return Fail(Status::InvalidArgument("--scopes: " + scopes.status().message()));
  Result<int64_t> ttl = auth::ParseDurationSeconds(args.ttl);
  if (!ttl.ok()) return Fail(Status::InvalidArgument("--ttl: " + ttl.status().message()));
  auth::TokenClaims claims;
  claims.subject = args.subject;
  claims.scopes = *scopes;
  if (args.has_prefix) claims.prefix = args.prefix;
  claims.issued_at_s = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  claims.expires_at_s = claims.issued_at_s + *ttl;
  Result<std::string> token = auth::CreateToken(*secret, claims);
  if (!token.ok()) return Fail(token.status());
  return WriteStdout(*token + "\n");
}

}  // namespace dialkv::cli
