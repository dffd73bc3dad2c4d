#include "server/auth/pki.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "server/auth/openssl_ptr.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace dialkv::pki {
namespace {

using ::testing::HasSubstr;

using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<&X509_STORE_CTX_free>>;
using StorePtr = std::unique_ptr<X509_STORE, OpenSslDeleter<&X509_STORE_free>>;

X509Ptr LoadCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

KeyPtr LoadKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return KeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// X509_V_OK when `leaf` chains to `ca` (the only trusted certificate) for `purpose`
// (X509_PURPOSE_SSL_SERVER, ...; 0: any), else the verification error.
int Verify(const std::string& leaf_pem, const std::string& ca_pem, int purpose = 0) {
  X509Ptr leaf = LoadCert(leaf_pem);
  X509Ptr ca = LoadCert(ca_pem);
  if (leaf == nullptr || ca == nullptr) return -1;
  StorePtr store(X509_STORE_new());
  if (store == nullptr || X509_STORE_add_cert(store.get(), ca.get()) != 1) return -1;
  StoreCtxPtr context(X509_STORE_CTX_new());
  if (context == nullptr ||
      X509_STORE_CTX_init(context.get(), store.get(), leaf.get(), nullptr) != 1) {
    return -1;
  }
  // Strict: what the more demanding TLS stacks (Python 3.13's, for one) check.
  X509_STORE_CTX_set_flags(context.get(), X509_V_FLAG_X509_STRICT);
  if (purpose != 0 && X509_STORE_CTX_set_purpose(context.get(), purpose) != 1) return -1;
  const int verified = X509_verify_cert(context.get());
  const int error = X509_STORE_CTX_get_error(context.get());
  ERR_clear_error();
  if (verified == 1) return X509_V_OK;
  return error == X509_V_OK ? -1 : error;
}

class PkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<Issued> ca = MakeCa("test CA", 30);
    ASSERT_OK(ca);
    ca_ = *ca;
    Result<Issued> leaf =
        IssueCert(ca_, "node", {"127.0.0.1", "::1", "node1.dialkv.test", "localhost"}, 30);
    ASSERT_OK(leaf);
    leaf_ = *leaf;
  }

  Issued ca_;
  Issued leaf_;
};

TEST_F(PkiTest, PemsAreCertificatesAndPkcs8Keys) {
  EXPECT_THAT(ca_.cert_pem, HasSubstr("-----BEGIN CERTIFICATE-----"));
  EXPECT_THAT(ca_.key_pem, HasSubstr("-----BEGIN PRIVATE KEY-----"));
  EXPECT_THAT(leaf_.cert_pem, HasSubstr("-----BEGIN CERTIFICATE-----"));
  EXPECT_THAT(leaf_.key_pem, HasSubstr("-----BEGIN PRIVATE KEY-----"));
  KeyPtr key = LoadKey(leaf_.key_pem);
  ASSERT_NE(key, nullptr);
  EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "EC"));
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 256);
}

TEST_F(PkiTest, CaIsACaAndTheLeafIsNot) {
  X509Ptr ca = LoadCert(ca_.cert_pem);
  X509Ptr leaf = LoadCert(leaf_.cert_pem);
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(leaf, nullptr);
  EXPECT_GE(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_TRUE(X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN);
  EXPECT_FALSE(X509_get_key_usage(leaf.get()) & KU_KEY_CERT_SIGN);
  // The CA is self-signed: it verifies against itself.
  EXPECT_EQ(Verify(ca_.cert_pem, ca_.cert_pem), X509_V_OK);
  EXPECT_EQ(X509_get_version(ca.get()), X509_VERSION_3);
  EXPECT_EQ(X509_get_version(leaf.get()), X509_VERSION_3);
}

TEST_F(PkiTest, IssuedCertVerifiesAgainstItsCaForServerAndClientUse) {
  EXPECT_EQ(Verify(leaf_.cert_pem, ca_.cert_pem), X509_V_OK);
  EXPECT_EQ(Verify(leaf_.cert_pem, ca_.cert_pem, X509_PURPOSE_SSL_SERVER), X509_V_OK);
  EXPECT_EQ(Verify(leaf_.cert_pem, ca_.cert_pem, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  X509Ptr leaf = LoadCert(leaf_.cert_pem);
  ASSERT_NE(leaf, nullptr);
  EXPECT_EQ(X509_get_extended_key_usage(leaf.get()),
            static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
}

TEST_F(PkiTest, IssuedCertDoesNotVerifyAgainstAnotherCa) {
  Result<Issued> other = MakeCa("other CA", 30);
  ASSERT_OK(other);
  EXPECT_NE(Verify(leaf_.cert_pem, other->cert_pem), X509_V_OK);
  // Not even one with the same name: the issuer is found by name, and then the signature (and
  // key identifier) must match too.
  Result<Issued> same_name = MakeCa("test CA", 30);
  ASSERT_OK(same_name);
  EXPECT_NE(Verify(leaf_.cert_pem, same_name->cert_pem), X509_V_OK);
  // And a certificate the other CA issued does not verify against ours.
  Result<Issued> foreign = IssueCert(*other, "node", {"127.0.0.1"}, 30);
  ASSERT_OK(foreign);
  EXPECT_EQ(Verify(foreign->cert_pem, other->cert_pem), X509_V_OK);
  EXPECT_NE(Verify(foreign->cert_pem, ca_.cert_pem), X509_V_OK);
}

TEST_F(PkiTest, KeyMatchesItsCertAndNoOther) {
  X509Ptr leaf = LoadCert(leaf_.cert_pem);
  KeyPtr leaf_key = LoadKey(leaf_.key_pem);
  X509Ptr ca = LoadCert(ca_.cert_pem);
  KeyPtr ca_key = LoadKey(ca_.key_pem);
  ASSERT_NE(leaf, nullptr);
  ASSERT_NE(leaf_key, nullptr);
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(ca_key, nullptr);
  EXPECT_EQ(X509_check_private_key(leaf.get(), leaf_key.get()), 1);
  EXPECT_EQ(X509_check_private_key(ca.get(), ca_key.get()), 1);
  EXPECT_NE(X509_check_private_key(leaf.get(), ca_key.get()), 1);
  EXPECT_NE(X509_check_private_key(ca.get(), leaf_key.get()), 1);
  ERR_clear_error();
}

TEST_F(PkiTest, SubjectAltNamesHoldTheNamesGivenAndNoOthers) {
  X509Ptr leaf = LoadCert(leaf_.cert_pem);
  ASSERT_NE(leaf, nullptr);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_host(leaf.get(), "node1.dialkv.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(leaf.get(), "localhost", 0, 0, nullptr), 1);

  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "127.0.0.2", 0), 0);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "10.0.0.1", 0), 0);
  EXPECT_EQ(X509_check_host(leaf.get(), "node2.dialkv.test", 0, 0, nullptr), 0);
  // The common name is not a host name: with a subjectAltName it is never consulted.
  EXPECT_EQ(X509_check_host(leaf.get(), "node", 0, 0, nullptr), 0);
  // An address given is an iPAddress entry, not a DNS name that looks like one.
  EXPECT_EQ(X509_check_host(leaf.get(), "127.0.0.1", 0, 0, nullptr), 0);
}

TEST_F(PkiTest, SerialsAreRandom128BitsAndValidityIsBackdatedAnHour) {
  Result<Issued> second = IssueCert(ca_, "node", {"127.0.0.1"}, 30);
  ASSERT_OK(second);
  X509Ptr a = LoadCert(leaf_.cert_pem);
  X509Ptr b = LoadCert(second->cert_pem);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  BignumPtr serial_a(ASN1_INTEGER_to_BN(X509_get0_serialNumber(a.get()), nullptr));
  BignumPtr serial_b(ASN1_INTEGER_to_BN(X509_get0_serialNumber(b.get()), nullptr));
  ASSERT_NE(serial_a, nullptr);
  ASSERT_NE(serial_b, nullptr);
  EXPECT_FALSE(BN_is_zero(serial_a.get()));
  EXPECT_FALSE(BN_is_negative(serial_a.get()));
  EXPECT_LE(BN_num_bits(serial_a.get()), 128);
  // 2^-64 chance of a false failure for each of these.
  EXPECT_GT(BN_num_bits(serial_a.get()), 64);
  EXPECT_NE(BN_cmp(serial_a.get(), serial_b.get()), 0);

  const time_t now = std::time(nullptr);
  int days = 0;
  int seconds = 0;
  // notBefore is an hour before now (a few seconds of slack for a slow run).
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(a.get()), nullptr), 1);
  EXPECT_EQ(days, 0);
  EXPECT_GE(seconds, 3600);
  EXPECT_LE(seconds, 3600 + 60);
  // notAfter is valid_days from now.
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(a.get())), 1);
  EXPECT_GE(days * 86400 + seconds, 30 * 86400 - 60);
  EXPECT_LE(days * 86400 + seconds, 30 * 86400);
  time_t check = now;
  EXPECT_EQ(X509_cmp_time(X509_get0_notBefore(a.get()), &check), -1);
}

TEST(PkiArgumentsTest, BadArgumentsAreRefused) {
  EXPECT_CODE(MakeCa("", 30), Code::kInvalidArgument);
  EXPECT_CODE(MakeCa(std::string(kMaxCommonNameBytes + 1, 'x'), 30), Code::kInvalidArgument);
  EXPECT_CODE(MakeCa("ca", 0), Code::kInvalidArgument);
  EXPECT_CODE(MakeCa("ca", kMaxValidDays + 1), Code::kInvalidArgument);
  Result<Issued> ca = MakeCa("ca", 1);
  ASSERT_OK(ca);

  EXPECT_CODE(IssueCert(*ca, "leaf", {""}, 30), Code::kInvalidArgument);
  // A comma must not become a second entry; brackets are not part of an IPv6 address.
  const Result<Issued> comma = IssueCert(*ca, "leaf", {"a.test,IP:10.0.0.1"}, 30);
  EXPECT_CODE(comma, Code::kInvalidArgument);
  EXPECT_THAT(comma.status().message(), HasSubstr("a.test,IP:10.0.0.1"));
  EXPECT_CODE(IssueCert(*ca, "leaf", {"[::1]"}, 30), Code::kInvalidArgument);
  EXPECT_CODE(IssueCert(*ca, "leaf", {"127.0.0.1"}, -1), Code::kInvalidArgument);

  // A CA that is not a CA, or whose key is not its own, or is not PEM at all.
  Result<Issued> leaf = IssueCert(*ca, "leaf", {"127.0.0.1"}, 30);
  ASSERT_OK(leaf);
  EXPECT_CODE(IssueCert(*leaf, "leaf", {"127.0.0.1"}, 30), Code::kInvalidArgument);
  Result<Issued> other = MakeCa("other", 1);
  ASSERT_OK(other);
  const Result<Issued> mismatched =
      IssueCert(Issued{ca->cert_pem, other->key_pem}, "leaf", {"127.0.0.1"}, 30);
  EXPECT_CODE(mismatched, Code::kInvalidArgument);
  const Result<Issued> garbage = IssueCert(Issued{"not a pem", ca->key_pem}, "leaf", {}, 30);
  EXPECT_CODE(garbage, Code::kInvalidArgument);
  EXPECT_THAT(garbage.status().message(), HasSubstr("CA certificate"));
  EXPECT_EQ(ERR_peek_error(), 0u) << "the OpenSSL error queue was left with errors";

  // No names: a certificate without subjectAltName (for a client).
  Result<Issued> nameless = IssueCert(*ca, "client", {}, 30);
  ASSERT_OK(nameless);
  X509Ptr cert = LoadCert(nameless->cert_pem);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_get_ext_by_NID(cert.get(), NID_subject_alt_name, -1), -1);
  EXPECT_EQ(Verify(nameless->cert_pem, ca->cert_pem, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return 07777;
  return st.st_mode & 07777;
}

std::set<std::string> Listing(const std::filesystem::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

TEST(WriteClusterTlsFilesTest, WritesLoadableFilesWithPrivateKeys) {
  testutil::TempDir temp;
  const std::string dir = temp.Sub("tls/nested");  // Does not exist yet.
  Result<TlsFiles> files = WriteClusterTlsFiles(dir, {"127.0.0.1", "localhost"});
  ASSERT_OK(files);
  EXPECT_EQ(files->ca_file, dir + "/ca.pem");
  EXPECT_EQ(files->cert_file, dir + "/node.pem");
  EXPECT_EQ(files->key_file, dir + "/node.key");
  EXPECT_TRUE(files->client_cert_file.empty());
  EXPECT_TRUE(files->client_key_file.empty());
  EXPECT_EQ(Listing(dir), (std::set<std::string>{"ca.pem", "node.pem", "node.key"}));
  EXPECT_EQ(ModeOf(files->key_file), 0600u);
  EXPECT_EQ(ModeOf(files->cert_file) & 0022u, 0u);  // Not writable by others.

  const std::string ca = ReadFile(files->ca_file);
  const std::string cert = ReadFile(files->cert_file);
  X509Ptr node = LoadCert(cert);
  KeyPtr key = LoadKey(ReadFile(files->key_file));
  ASSERT_NE(LoadCert(ca), nullptr);
  ASSERT_NE(node, nullptr);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(X509_check_private_key(node.get(), key.get()), 1);
  EXPECT_EQ(Verify(cert, ca, X509_PURPOSE_SSL_SERVER), X509_V_OK);
  EXPECT_EQ(Verify(cert, ca, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_EQ(X509_check_ip_asc(node.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_host(node.get(), "localhost", 0, 0, nullptr), 1);
}

TEST(WriteClusterTlsFilesTest, ReplacesExistingFilesAndMakesAClientCertificate) {
  testutil::TempDir temp;
  const std::string dir = temp.path().string();
  // A key file left readable by everyone is replaced by one that is not.
  { std::ofstream(temp.Sub("node.key")) << "old key\n"; }
  std::filesystem::permissions(temp.Sub("node.key"), std::filesystem::perms(0666));
  { std::ofstream(temp.Sub("ca.pem")) << "old ca\n"; }
  Result<TlsFiles> files = WriteClusterTlsFiles(dir, {"10.1.2.3"}, /*with_client=*/true);
  ASSERT_OK(files);
  EXPECT_EQ(Listing(dir),
            (std::set<std::string>{"ca.pem", "node.pem", "node.key", "client.pem", "client.key"}));
  EXPECT_EQ(ModeOf(files->key_file), 0600u);
  EXPECT_EQ(ModeOf(files->client_key_file), 0600u);
  EXPECT_EQ(files->client_cert_file, temp.Sub("client.pem"));
  EXPECT_EQ(files->client_key_file, temp.Sub("client.key"));

  const std::string ca = ReadFile(files->ca_file);
  const std::string node = ReadFile(files->cert_file);
  const std::string client = ReadFile(files->client_cert_file);
  EXPECT_EQ(Verify(node, ca, X509_PURPOSE_SSL_SERVER), X509_V_OK);
  EXPECT_EQ(Verify(client, ca, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  X509Ptr client_cert = LoadCert(client);
  KeyPtr client_key = LoadKey(ReadFile(files->client_key_file));
  KeyPtr node_key = LoadKey(ReadFile(files->key_file));
  ASSERT_NE(client_cert, nullptr);
  ASSERT_NE(client_key, nullptr);
  ASSERT_NE(node_key, nullptr);
  EXPECT_EQ(X509_check_private_key(client_cert.get(), client_key.get()), 1);
  EXPECT_NE(X509_check_private_key(client_cert.get(), node_key.get()), 1);
  ERR_clear_error();

  // A second call makes a new CA: the old node certificate does not verify under it.
  Result<TlsFiles> again = WriteClusterTlsFiles(dir, {"10.1.2.3"});
  ASSERT_OK(again);
  EXPECT_NE(Verify(node, ReadFile(again->ca_file)), X509_V_OK);
  EXPECT_EQ(Verify(ReadFile(again->cert_file), ReadFile(again->ca_file)), X509_V_OK);
}

TEST(WriteClusterTlsFilesTest, KeysAreExactly0600WhateverTheUmask) {
  testutil::TempDir temp;
  // A umask that takes the owner's write bit: the keys must still be 0600, not 0400.
  const mode_t old_umask = umask(0277);
  Result<TlsFiles> files = WriteClusterTlsFiles(temp.path().string(), {"127.0.0.1"}, true);
  umask(old_umask);
  ASSERT_OK(files);
  EXPECT_EQ(ModeOf(files->key_file), 0600u);
  EXPECT_EQ(ModeOf(files->client_key_file), 0600u);
  EXPECT_EQ(ModeOf(files->cert_file), 0400u);  // Certificates follow the umask.
}

TEST(WriteClusterTlsFilesTest, RefusesNoNamesOrBadNamesBeforeWritingAnything) {
  testutil::TempDir temp;
  const std::string dir = temp.Sub("tls");
  EXPECT_CODE(WriteClusterTlsFiles(dir, {}), Code::kInvalidArgument);
  EXPECT_CODE(WriteClusterTlsFiles(dir, {"127.0.0.1", "bad name"}), Code::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir));
  // A directory that cannot be made.
  { std::ofstream(temp.Sub("file")) << "x"; }
  EXPECT_CODE(WriteClusterTlsFiles(temp.Sub("file/tls"), {"127.0.0.1"}), Code::kIOError);
}

}  // namespace
}  // namespace dialkv::pki
