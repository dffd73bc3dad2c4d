#pragma once
// Creating a dialkv::Client in client tests: a failure is reported to gtest and yields null.

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dialkv/client.h"

namespace dialkv::client_test {

inline std::unique_ptr<Client> MakeClient(ClientOptions options) {
  Result<std::unique_ptr<Client>> client = Client::Create(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(client).value() : nullptr;
}

inline std::unique_ptr<Client> MakeClient(std::vector<std::string> endpoints,
                                          uint32_t timeout_ms = 5000) {
  ClientOptions options;
  options.endpoints = std::move(endpoints);
  options.timeout_ms = timeout_ms;
  return MakeClient(std::move(options));
}

}  // namespace dialkv::client_test
