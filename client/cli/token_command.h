#pragma once
// `dialkv token create`: makes a client token (server/auth/token.h) from the cluster's token
// secret, for nodes started with --auth-token-secret-file, and prints it on stdout.

#include <CLI/CLI.hpp>
#include <string>

namespace dialkv::cli {

struct TokenArgs {
  std::string secret_file;
  std::string scopes;  // "kv:read,kv:write,admin"
  std::string ttl = "1h";
  std::string prefix;  // Empty: every key.
  bool has_prefix = false;
  std::string subject;
};

// Adds `token` with its `create` subcommand to `app` (not owned); `args` (not owned) receives
// the arguments. Returns the `token` subcommand.
CLI::App* AddTokenCommand(CLI::App* app, TokenArgs* args);

// Prints the token on stdout; returns the exit code (2 for bad arguments or an unreadable or
// short secret file).
int RunTokenCreate(const TokenArgs& args);

}  // namespace dialkv::cli
