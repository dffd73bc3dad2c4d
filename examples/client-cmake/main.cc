// Puts, gets and deletes one key in CP and in AP mode through the dialkv C++ client library.
//   app HOST:PORT [KEY]      a token for nodes that require one: the DIALKV_TOKEN variable
// Exits 0 when every step gave what it should, 1 otherwise (the failing step is printed).
#include <dialkv/client.h>

#include <cstdlib>
#include <iostream>
#include <string>

namespace {

bool Check(const char* step, const dialkv::Status& status) {
  std::cout << step << ": " << (status.ok() ? "OK" : status.ToString()) << "\n";
  return status.ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: " << argv[0] << " HOST:PORT [KEY]\n";
    return 2;
  }
  const std::string key = argc == 3 ? argv[2] : "example:key";
  const char* token = std::getenv("DIALKV_TOKEN");
  auto client = dialkv::Client::Create({.endpoints = {argv[1]}, .token = token ? token : ""});
  if (!Check("connect", client.status())) return 1;

  for (const auto mode : {dialkv::Consistency::kCp, dialkv::Consistency::kAp}) {
    const dialkv::RequestOptions options{.consistency = mode};
    const std::string name = mode == dialkv::Consistency::kCp ? "cp" : "ap";
    const std::string value = "hello in " + name;
    if (!Check(("put (" + name + ")").c_str(), (*client)->Put(key, value, options).status())) {
      return 1;
    }
    auto got = (*client)->Get(key, options);
    if (!Check(("get (" + name + ")").c_str(), got.status())) return 1;
    std::cout << "  value=" << got->value << "\n";
    if (got->value != value) return 1;
    if (!Check(("delete (" + name + ")").c_str(), (*client)->Delete(key, options).status())) {
      return 1;
    }
    auto gone = (*client)->Get(key, options);
    std::cout << "get after delete (" << name << "): " << gone.status().ToString() << "\n";
    if (gone.code() != dialkv::Code::kNotFound) return 1;
  }
  std::cout << "all steps passed\n";
  return 0;
}
