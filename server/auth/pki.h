#pragma once
// Certificates for running a cluster with TLS where there is no PKI to ask: tests, and the test
// harness that starts nodes with TLS on. A throwaway CA signs one certificate that a node uses
// on both sides of mutual TLS (it listens with it and dials its peers with it), and optionally
// one for a client. Everything is made in-process with the OpenSSL 3 C API, so a test does not
// depend on an `openssl` binary being installed or on how its command line changed.
//
// Keys are EC P-256 (small, fast to generate, accepted by every TLS 1.2 and 1.3 stack);
// certificates are X.509 v3 signed with ECDSA-SHA256. Private keys come back as unencrypted
// PKCS#8 PEM ("BEGIN PRIVATE KEY"): they are for tests, not for production secrets.
//
// Thread-safe: no shared state (OpenSSL keeps its error queue per thread).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "dialkv/status.h"

namespace dialkv::pki {

// The longest common name X.509 allows (ub-common-name, RFC 5280).
inline constexpr size_t kMaxCommonNameBytes = 64;
// valid_days must be in [1, kMaxValidDays]: a hundred years is long enough for any test, and
// a bound keeps notAfter well before the year 9999, after which there is no time encoding.
inline constexpr int kMaxValidDays = 36500;
// How long the certificates WriteClusterTlsFiles makes are valid.
inline constexpr int kClusterTlsValidDays = 365;

struct Issued {
  std::string cert_pem;  // "-----BEGIN CERTIFICATE-----".
  std::string key_pem;   // "-----BEGIN PRIVATE KEY-----": unencrypted PKCS#8.
};

// A self-signed CA certificate with a fresh EC P-256 key: basicConstraints critical CA:TRUE
// with pathlen 0 (it signs leaves only), keyUsage critical keyCertSign and cRLSign, subject and
// authority key identifiers, a random 128-bit serial, and notBefore an hour in the past so a
// node whose clock is a little behind accepts it.
// Errors: kInvalidArgument when common_name is empty or over kMaxCommonNameBytes, or valid_days
// is outside [1, kMaxValidDays]; kInternal naming the step and OpenSSL's error when OpenSSL
// fails.
Result<Issued> MakeCa(std::string_view common_name, int valid_days);

// A leaf certificate signed by `ca` (as returned by MakeCa), with a fresh EC P-256 key.
// Each of `names` becomes a subjectAltName entry: an IP address when it parses as IPv4 or IPv6
// (written without brackets: "::1", not "[::1]"), a DNS name otherwise. `names` may be empty:
// then there is no subjectAltName, which suits a client certificate that no one checks against
// a host name. Extended key usage is serverAuth and clientAuth, because a node presents the
// same certificate when it listens and when it dials. Also: basicConstraints critical CA:FALSE,
// keyUsage critical digitalSignature, subject and authority key identifiers, a random 128-bit
// serial, and notBefore an hour in the past (clock skew). The common name is only a label:
// TLS clients match host names against the subjectAltName alone.
// Errors: kInvalidArgument when common_name or valid_days is out of range (as for MakeCa), when
// a name is empty or neither an IP address nor made of what a DNS name can hold (letters,
// digits, '-', '.', '_' and '*': a comma or a space is refused rather than mangled), or when
// `ca` does not hold a PEM CA certificate and the unencrypted PEM private key that goes with
// it; kInternal naming the step and OpenSSL's error when OpenSSL fails.
Result<Issued> IssueCert(const Issued& ca, std::string_view common_name,
                         const std::vector<std::string>& names, int valid_days);

// Paths of the files WriteClusterTlsFiles wrote.
struct TlsFiles {
  std::string ca_file;    // dir/ca.pem: the CA certificate both sides trust.
  std::string cert_file;  // dir/node.pem: the nodes' certificate.
  std::string key_file;   // dir/node.key: its private key, mode 0600.
  // dir/client.pem and dir/client.key (mode 0600) when asked for with with_client; else empty.
  std::string client_cert_file;
  std::string client_key_file;
};

// Writes what a cluster needs to run with mutual TLS into `dir` (created, with its parents,
// when missing): a fresh CA's certificate (ca.pem), one node certificate for `names` that every
// node uses (node.pem, node.key), and, when with_client, a client certificate with no
// subjectAltName (client.pem, client.key). Certificates are valid for kClusterTlsValidDays. The
// CA's private key is not written, so no one who can read the directory can make more
// certificates the cluster trusts (nor can a later call add to this CA: each call makes a new
// one).
//
// Files already there are replaced. Each file is written to a temporary file in `dir`, created
// with O_CREAT|O_EXCL and its final mode (0600 for keys, 0644 less the umask for
// certificates), and renamed over the old one: a key is never readable by others, not even for
// a moment and not when it replaces a file that was, and each file is either the old or the new
// one, never half written. After an error some of the files may already be the new ones.
// Without with_client, client files left by an earlier call stay as they were (and no longer
// verify: they were signed by the earlier CA).
// Errors: kInvalidArgument, before anything is written, when `dir` or `names` is empty or a
// name is refused (as for IssueCert); kIOError naming the path when a directory or file cannot
// be made or written; kInternal when OpenSSL fails.
Result<TlsFiles> WriteClusterTlsFiles(const std::string& dir, const std::vector<std::string>& names,
                                      bool with_client = false);

}  // namespace dialkv::pki
