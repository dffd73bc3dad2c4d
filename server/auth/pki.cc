#include "server/auth/pki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <system_error>
#include <utility>

#include "server/auth/openssl_ptr.h"

namespace dialkv::pki {
namespace {

template <auto Free>
using Deleter = OpenSslDeleter<Free>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, Deleter<&X509_EXTENSION_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Deleter<&GENERAL_NAME_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<&GENERAL_NAMES_free>>;
using NamePtr = std::unique_ptr<X509_NAME, Deleter<&X509_NAME_free>>;
using StringPtr = std::unique_ptr<ASN1_STRING, Deleter<&ASN1_STRING_free>>;

constexpr size_t kMaxDnsNameBytes = 253;
// An hour of clock skew: a certificate made on one machine is accepted at once by a node whose
// clock is up to an hour behind.
constexpr long kBackdateSeconds = 60 * 60;
constexpr int kSerialBits = 128;

// `step` failed in OpenSSL: a status with `code` naming the step and what OpenSSL says, the
// error queue emptied so nothing stale is reported for a later, unrelated failure.
Status OpenSslStatus(Code code, std::string_view step) {
  std::string message = "pki: " + std::string(step) + " failed: ";
  // The earliest error is usually the cause; the ones after it say where it surfaced. A few
  // are enough to tell what went wrong.
  int reported = 0;
  for (unsigned long error = ERR_get_error(); error != 0; error = ERR_get_error()) {
    if (reported++ >= 4) continue;
    char text[256];
    ERR_error_string_n(error, text, sizeof text);
    if (reported > 1) message += "; ";
    message += text;
  }
  if (reported == 0) message += "OpenSSL reported no error";
  ERR_clear_error();
  return Status(code, std::move(message));
}

Status OpenSslError(std::string_view step) { return OpenSslStatus(Code::kInternal, step); }

Status CheckCommonName(std::string_view common_name) {
  if (common_name.empty() || common_name.size() > kMaxCommonNameBytes) {
    return Status::InvalidArgument("pki: a common name must be 1 to " +
                                   std::to_string(kMaxCommonNameBytes) + " bytes, not " +
                                   std::to_string(common_name.size()));
  }
  return Status::Ok();
}

Status CheckValidDays(int valid_days) {
  if (valid_days < 1 || valid_days > kMaxValidDays) {
    return Status::InvalidArgument("pki: valid_days must be 1 to " + std::to_string(kMaxValidDays) +
                                   ", not " + std::to_string(valid_days));
  }
  return Status::Ok();
}

// A name refused here would otherwise be put in the certificate as a DNS name no one can match
// (or, for "[::1]", look like an address and not be one).
Status CheckDnsName(const std::string& name) {
  if (name.empty() || name.size() > kMaxDnsNameBytes) {
    return Status::InvalidArgument(
        "pki: a subjectAltName must be an IP address or a DNS name of 1 to " +
        std::to_string(kMaxDnsNameBytes) + " bytes, not '" + name + "'");
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '*';
    if (!ok) {
      return Status::InvalidArgument("pki: '" + name +
                                     "' is neither an IP address nor a DNS name (an IPv6 "
                                     "address is written without brackets)");
    }
  }
  return Status::Ok();
}

// The subjectAltName entries for `names`, IP addresses as such and the rest as DNS names. Built
// entry by entry rather than from the "DNS:a,IP:b" text form, so no name can smuggle in another
// entry.
Result<GeneralNamesPtr> AltNames(const std::vector<std::string>& names) {
  GeneralNamesPtr entries(GENERAL_NAMES_new());
  if (entries == nullptr) return OpenSslError("allocating the subjectAltName");
  for (const std::string& name : names) {
    unsigned char address[16];
    int address_bytes = 0;
    if (inet_pton(AF_INET, name.c_str(), address) == 1) {
      address_bytes = 4;
    } else if (inet_pton(AF_INET6, name.c_str(), address) == 1) {
      address_bytes = 16;
    } else {
      if (Status status = CheckDnsName(name); !status.ok()) return status;
    }
    GeneralNamePtr entry(GENERAL_NAME_new());
    // An iPAddress is an OCTET STRING of 4 or 16 bytes; a dNSName an IA5String.
    StringPtr value(address_bytes > 0 ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new());
    if (entry == nullptr || value == nullptr) {
      return OpenSslError("allocating a subjectAltName entry");
    }
    const bool set = address_bytes > 0 ? ASN1_STRING_set(value.get(), address, address_bytes) == 1
                                       : ASN1_STRING_set(value.get(), name.data(),
                                                         static_cast<int>(name.size())) == 1;
    if (!set) return OpenSslError("setting subjectAltName entry '" + name + "'");
    GENERAL_NAME_set0_value(entry.get(), address_bytes > 0 ? GEN_IPADD : GEN_DNS, value.release());
    if (sk_GENERAL_NAME_push(entries.get(), entry.get()) == 0) {
      return OpenSslError("adding subjectAltName entry '" + name + "'");
    }
    (void)entry.release();  // Owned by `entries` now.
  }
  return entries;
}

// Adds the extension `nid` written in OpenSSL's configuration syntax ("critical,CA:TRUE").
// `issuer` is the signing certificate (for authorityKeyIdentifier); `cert` itself when
// self-signed.
Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value));
  if (extension == nullptr || X509_add_ext(cert, extension.get(), -1) != 1) {
    return OpenSslError(std::string("adding extension ") + OBJ_nid2sn(nid) + " " + value);
  }
  return Status::Ok();
}

// A PEM password callback that has no password: reading an encrypted key fails instead of
// OpenSSL's default, which prompts on the terminal (and would hang a test).
int NoPassword(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return 0; }

Result<BioPtr> ReadBio(const std::string& pem, std::string_view what) {
  if (pem.size() > static_cast<size_t>(INT_MAX)) {
    return Status::InvalidArgument("pki: the " + std::string(what) + " PEM is too large");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return OpenSslError("allocating a BIO");
  return bio;
}

Result<std::string> ToPem(X509* cert, EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return OpenSslError("allocating a BIO");
  if (cert != nullptr && PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslError("writing the certificate as PEM");
  }
  if (key != nullptr &&
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("writing the private key as PEM");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  if (size <= 0 || data == nullptr) return OpenSslError("reading the PEM back");
  return std::string(data, static_cast<size_t>(size));
}

// A certificate for `common_name` with a fresh P-256 key, signed by issuer/issuer_key, or
// self-signed as a CA when issuer is null. `alt_names` (leaves only) may be empty.
Result<Issued> MakeCertificate(std::string_view common_name, int valid_days, X509* issuer,
                               EVP_PKEY* issuer_key, const GENERAL_NAMES* alt_names) {
  const bool is_ca = issuer == nullptr;
  KeyPtr key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpenSslError("generating an EC P-256 key");

  X509Ptr cert(X509_new());
  if (cert == nullptr) return OpenSslError("allocating a certificate");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslError("setting the certificate version");
  }

  // A random serial: two certificates from the same CA never share one, even when made in the
  // same second by different processes.
  BignumPtr serial(BN_new());
  if (serial == nullptr) return OpenSslError("allocating the serial number");
  do {
    if (BN_rand(serial.get(), kSerialBits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
      return OpenSslError("drawing a random serial number");
    }
  } while (BN_is_zero(serial.get()));  // RFC 5280 wants a positive serial.
  if (BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return OpenSslError("setting the serial number");
  }

  NamePtr subject(X509_NAME_new());
  if (subject == nullptr ||
      X509_NAME_add_entry_by_NID(subject.get(), NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1) {
    return OpenSslError("setting the common name");
  }
  if (X509_set_subject_name(cert.get(), subject.get()) != 1 ||
      X509_set_issuer_name(cert.get(), is_ca ? subject.get() : X509_get_subject_name(issuer)) !=
          1) {
    return OpenSslError("setting the subject and issuer names");
  }

  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), valid_days, 0, nullptr) == nullptr) {
    return OpenSslError("setting the validity period");
  }
  if (X509_set_pubkey(cert.get(), key.get()) != 1) return OpenSslError("setting the public key");

  X509* const signer = is_ca ? cert.get() : issuer;
  if (is_ca) {
    // pathlen 0: this CA signs leaves, never another CA.
    if (Status s =
            AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
        !s.ok()) {
      return s;
    }
    if (Status s = AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
        !s.ok()) {
      return s;
    }
  } else {
    if (Status s = AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
        !s.ok()) {
      return s;
    }
    // ECDSA keys sign the TLS handshake; with ECDHE key exchange they need nothing else.
    if (Status s = AddExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
        !s.ok()) {
      return s;
    }
    if (Status s = AddExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
        !s.ok()) {
      return s;
    }
  }
  // Key identifiers let a verifier find the issuer by key rather than by name alone; strict
  // verifiers (OpenSSL's X509_V_FLAG_X509_STRICT, which Python 3.13 turns on) require them.
  // The subject key identifier comes first: for the CA it is also the authority key identifier.
  if (Status s = AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash"); !s.ok()) {
    return s;
  }
  if (Status s = AddExtension(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
      !s.ok()) {
    return s;
  }
  if (alt_names != nullptr && sk_GENERAL_NAME_num(alt_names) > 0 &&
      X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, const_cast<GENERAL_NAMES*>(alt_names), 0,
                        X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError("adding the subjectAltName");
  }

  if (X509_sign(cert.get(), is_ca ? key.get() : issuer_key, EVP_sha256()) <= 0) {
    return OpenSslError("signing the certificate");
  }

  Result<std::string> cert_pem = ToPem(cert.get(), nullptr);
  if (!cert_pem.ok()) return cert_pem.status();
  Result<std::string> key_pem = ToPem(nullptr, key.get());
  if (!key_pem.ok()) return key_pem.status();
  return Issued{std::move(cert_pem).value(), std::move(key_pem).value()};
}

std::string ErrnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

// Replaces `path` with `contents` through a temporary file in the same directory, created with
// O_EXCL and `mode` (so it never exists with a wider mode, and never follows a planted link),
// then renamed over `path`. With exact_mode the umask is overridden: a key is 0600 whatever it
// is.
Status ReplaceFile(const std::filesystem::path& path, std::string_view contents, mode_t mode,
                   bool exact_mode) {
  std::random_device random;
  std::string temp;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 10; ++attempt) {
    char suffix[24];
    std::snprintf(suffix, sizeof suffix, ".tmp-%08x%08x", random(), random());
    temp = (path.parent_path() / ("." + path.filename().string() + suffix)).string();
    fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (const int error = errno; fd < 0 && error != EEXIST) {
      return Status::IOError("pki: cannot create " + temp + ": " + ErrnoText(error));
    }
  }
  if (fd < 0) return Status::IOError("pki: cannot find a free temporary name for " + path.string());

  // From here on, a failure removes the temporary file.
  auto fail = [&](std::string_view what, int error) {
    if (fd >= 0) close(fd);
    unlink(temp.c_str());
    return Status::IOError("pki: cannot " + std::string(what) + " " + temp + ": " +
                           ErrnoText(error));
  };
  if (exact_mode && fchmod(fd, mode) != 0) return fail("set the mode of", errno);
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write", errno);
    }
    written += static_cast<size_t>(n);
  }
  const int closed = close(fd);
  fd = -1;
  if (closed != 0) return fail("close", errno);
  if (rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    unlink(temp.c_str());
    return Status::IOError("pki: cannot rename " + temp + " to " + path.string() + ": " +
                           ErrnoText(error));
  }
  return Status::Ok();
}

constexpr mode_t kCertMode = 0644;  // Less the umask.
constexpr mode_t kKeyMode = 0600;   // Exactly.

}  // namespace

Result<Issued> MakeCa(std::string_view common_name, int valid_days) {
  if (Status s = CheckCommonName(common_name); !s.ok()) return s;
  if (Status s = CheckValidDays(valid_days); !s.ok()) return s;
  ERR_clear_error();  // Errors left by the caller would be reported as ours.
  return MakeCertificate(common_name, valid_days, nullptr, nullptr, nullptr);
}

Result<Issued> IssueCert(const Issued& ca, std::string_view common_name,
                         const std::vector<std::string>& names, int valid_days) {
  if (Status s = CheckCommonName(common_name); !s.ok()) return s;
  if (Status s = CheckValidDays(valid_days); !s.ok()) return s;
  ERR_clear_error();  // Errors left by the caller would be reported as ours.
  Result<GeneralNamesPtr> alt_names = AltNames(names);
  if (!alt_names.ok()) return alt_names.status();

  Result<BioPtr> cert_bio = ReadBio(ca.cert_pem, "CA certificate");
  if (!cert_bio.ok()) return cert_bio.status();
  X509Ptr ca_cert(PEM_read_bio_X509(cert_bio->get(), nullptr, &NoPassword, nullptr));
  if (ca_cert == nullptr) {
    return OpenSslStatus(Code::kInvalidArgument, "reading the CA certificate PEM");
  }
  Result<BioPtr> key_bio = ReadBio(ca.key_pem, "CA key");
  if (!key_bio.ok()) return key_bio.status();
  KeyPtr ca_key(PEM_read_bio_PrivateKey(key_bio->get(), nullptr, &NoPassword, nullptr));
  if (ca_key == nullptr) return OpenSslStatus(Code::kInvalidArgument, "reading the CA key PEM");
  if (X509_check_ca(ca_cert.get()) < 1) {
    return Status::InvalidArgument("pki: the CA certificate is not a CA's (no CA:TRUE)");
  }
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    return OpenSslStatus(Code::kInvalidArgument,
                         "matching the CA key to the CA certificate (they are not a pair)");
  }
  return MakeCertificate(common_name, valid_days, ca_cert.get(), ca_key.get(), alt_names->get());
}

Result<TlsFiles> WriteClusterTlsFiles(const std::string& dir, const std::vector<std::string>& names,
                                      bool with_client) {
  if (dir.empty()) return Status::InvalidArgument("pki: no directory given for the TLS files");
  if (names.empty()) {
    return Status::InvalidArgument(
        "pki: a node certificate needs at least one name (an IP address or a DNS name)");
  }
  // Refuse bad names before anything is written.
  if (Result<GeneralNamesPtr> alt_names = AltNames(names); !alt_names.ok()) {
    return alt_names.status();
  }
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return Status::IOError("pki: cannot create directory " + dir + ": " + error.message());

  Result<Issued> ca = MakeCa("dialkv cluster CA", kClusterTlsValidDays);
  if (!ca.ok()) return ca.status();
  Result<Issued> node = IssueCert(*ca, "dialkv node", names, kClusterTlsValidDays);
  if (!node.ok()) return node.status();

  const std::filesystem::path base(dir);
  TlsFiles files;
  files.ca_file = (base / "ca.pem").string();
  files.cert_file = (base / "node.pem").string();
  files.key_file = (base / "node.key").string();
  if (Status s = ReplaceFile(files.ca_file, ca->cert_pem, kCertMode, false); !s.ok()) return s;
  if (Status s = ReplaceFile(files.key_file, node->key_pem, kKeyMode, true); !s.ok()) return s;
  if (Status s = ReplaceFile(files.cert_file, node->cert_pem, kCertMode, false); !s.ok()) {
    return s;
  }
  if (with_client) {
    Result<Issued> client = IssueCert(*ca, "dialkv client", {}, kClusterTlsValidDays);
    if (!client.ok()) return client.status();
    files.client_cert_file = (base / "client.pem").string();
    files.client_key_file = (base / "client.key").string();
    if (Status s = ReplaceFile(files.client_key_file, client->key_pem, kKeyMode, true); !s.ok()) {
      return s;
    }
    if (Status s = ReplaceFile(files.client_cert_file, client->cert_pem, kCertMode, false);
        !s.ok()) {
      return s;
    }
  }
  return files;
}

}  // namespace dialkv::pki
