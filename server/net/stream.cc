#include "server/net/stream.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl/error.hpp>
#include <asio/use_awaitable.hpp>

#include "server/common/status.h"

namespace dialkv::net {
namespace {

// TLS 1.2 is the oldest version still considered sound; everything older is refused.
constexpr auto kTlsOptions = asio::ssl::context::default_workarounds |
                             asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                             asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                             asio::ssl::context::single_dh_use;

Status LoadFailed(std::string_view flags, const char* what, const std::string& path,
                  const std::error_code& ec) {
  return Status::InvalidArgument(std::string(flags) + ": cannot load " + what + " " + path + ": " +
                                 ec.message());
}

// Loads this side's certificate chain and key, and checks that they belong together.
Status LoadIdentity(asio::ssl::context& context, const TlsContext::Files& files,
                    std::string_view flags) {
  std::error_code ec;
  context.use_certificate_chain_file(files.cert_file, ec);
  if (ec) return LoadFailed(flags, "certificate", files.cert_file, ec);
  context.use_private_key_file(files.key_file, asio::ssl::context::pem, ec);
  if (ec) return LoadFailed(flags, "private key", files.key_file, ec);
  if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
    return Status::InvalidArgument(std::string(flags) + ": the key in " + files.key_file +
                                   " does not belong to the certificate in " + files.cert_file);
  }
  return Status::Ok();
}

Status LoadCa(asio::ssl::context& context, const TlsContext::Files& files, std::string_view flags) {
  std::error_code ec;
  context.load_verify_file(files.ca_file, ec);
  if (ec) return LoadFailed(flags, "CA certificates", files.ca_file, ec);
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::ForServer(const Files& files,
                                                          std::string_view flags) {
  if (files.cert_file.empty() || files.key_file.empty()) {
    return Status::InvalidArgument(std::string(flags) +
                                   ": a TLS listener needs both a certificate and its key");
  }
  std::shared_ptr<TlsContext> tls(new TlsContext(asio::ssl::context::tls_server, TlsRole::kServer));
  tls->context_.set_options(kTlsOptions);
  DIALKV_RETURN_IF_ERROR(LoadIdentity(tls->context_, files, flags));
  if (!files.ca_file.empty()) {
    DIALKV_RETURN_IF_ERROR(LoadCa(tls->context_, files, flags));
    tls->context_.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }
  return tls;
}

Result<std::shared_ptr<TlsContext>> TlsContext::ForClient(const Files& files,
                                                          std::string_view flags) {
  if (files.ca_file.empty()) {
    return Status::InvalidArgument(std::string(flags) +
                                   ": TLS needs a CA file to check the node's certificate");
  }
  if (files.cert_file.empty() != files.key_file.empty()) {
    return Status::InvalidArgument(
        std::string(flags) + ": a client certificate needs its key, and a key its certificate");
  }
  std::shared_ptr<TlsContext> tls(new TlsContext(asio::ssl::context::tls_client, TlsRole::kClient));
  tls->context_.set_options(kTlsOptions);
  DIALKV_RETURN_IF_ERROR(LoadCa(tls->context_, files, flags));
  tls->context_.set_verify_mode(asio::ssl::verify_peer);
  if (!files.cert_file.empty()) DIALKV_RETURN_IF_ERROR(LoadIdentity(tls->context_, files, flags));
  return tls;
}

asio::awaitable<Status> Stream::StartTls(std::shared_ptr<TlsContext> context, std::string host) {
  context_ = std::move(context);
  tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, context_->native());
  const bool client = context_->role() == TlsRole::kClient;
  if (client) {
    // OpenSSL checks the name during verification, so a mismatch is reported as one
    // ("hostname mismatch") rather than as a bare verification failure.
    SSL* ssl = tls_->native_handle();
    std::error_code not_address;
    asio::ip::make_address(host, not_address);
    const int named = not_address
                          ? SSL_set1_host(ssl, host.c_str())
                          : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    if (named != 1) co_return Status::InvalidArgument("cannot check a certificate for " + host);
    // Server Name Indication carries names only, never addresses (RFC 6066).
    if (not_address) SSL_set_tlsext_host_name(ssl, host.c_str());
  }
  auto [ec] = co_await tls_->async_handshake(
      client ? asio::ssl::stream_base::client : asio::ssl::stream_base::server,
      asio::experimental::as_tuple(asio::use_awaitable));
  if (!ec) co_return Status::Ok();
  std::string reason = ec.message();
  const long verified = SSL_get_verify_result(tls_->native_handle());
  if (verified != X509_V_OK) {
    reason += std::string(" (") + X509_verify_cert_error_string(verified) + ")";
  } else if (client) {
    reason += " (is TLS on at that port?)";
  }
  co_return Status::Unavailable("TLS handshake failed: " + reason);
}

void Stream::Close() {
  std::error_code ignored;
  socket_.close(ignored);
}

bool IsEndOfStream(const std::error_code& ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
}

}  // namespace dialkv::net
