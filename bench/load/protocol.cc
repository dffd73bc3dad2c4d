#include "bench/load/protocol.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace dialkv::bench {
namespace {

constexpr int kMaxRespDepth = 8;
constexpr size_t kMaxHttpHeaderBytes = 64 << 10;

// Reads the line at `pos` (without its CRLF). False when no CRLF yet.
bool Line(std::string_view in, size_t pos, std::string_view* line, size_t* next) {
  const size_t end = in.find("\r\n", pos);
  if (end == std::string_view::npos) return false;
  *line = in.substr(pos, end - pos);
  *next = end + 2;
  return true;
}

bool ToInt(std::string_view text, int64_t* value) {
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && p == text.data() + text.size();
}

Parse ParseRespAt(std::string_view in, size_t pos, int depth, RespReply* reply, size_t* next) {
  if (depth > kMaxRespDepth) return Parse::kMalformed;
  if (pos >= in.size()) return Parse::kIncomplete;
  std::string_view line;
  size_t after = 0;
  if (!Line(in, pos + 1, &line, &after)) return Parse::kIncomplete;
  switch (in[pos]) {
    case '+':
      *reply = {.type = RespReply::Type::kSimple, .integer = 0, .text = line};
      *next = after;
      return Parse::kDone;
    case '-':
      *reply = {.type = RespReply::Type::kError, .integer = 0, .text = line};
      *next = after;
      return Parse::kDone;
    case ':': {
      int64_t v = 0;
      if (!ToInt(line, &v)) return Parse::kMalformed;
      *reply = {.type = RespReply::Type::kInteger, .integer = v, .text = {}};
      *next = after;
      return Parse::kDone;
    }
    case '$': {
      int64_t length = 0;
      if (!ToInt(line, &length) || length < -1) return Parse::kMalformed;
      if (length == -1) {
        *reply = {};
        *next = after;
        return Parse::kDone;
      }
      const auto n = static_cast<size_t>(length);
      if (in.size() < after + n + 2) return Parse::kIncomplete;
      if (in.substr(after + n, 2) != "\r\n") return Parse::kMalformed;
      *reply = {.type = RespReply::Type::kBulk, .integer = 0, .text = in.substr(after, n)};
      *next = after + n + 2;
      return Parse::kDone;
    }
    case '*': {
      int64_t count = 0;
      if (!ToInt(line, &count) || count < -1) return Parse::kMalformed;
      if (count == -1) {
        *reply = {};
        *next = after;
        return Parse::kDone;
      }
      size_t at = after;
      for (int64_t i = 0; i < count; ++i) {
        RespReply element;
        const Parse p = ParseRespAt(in, at, depth + 1, &element, &at);
        if (p != Parse::kDone) return p;
      }
      *reply = {.type = RespReply::Type::kArray, .integer = count, .text = {}};
      *next = at;
      return Parse::kDone;
    }
    default:
      return Parse::kMalformed;
  }
}

bool HeaderIs(std::string_view line, std::string_view name, std::string_view* value) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  }
  std::string_view v = line.substr(name.size() + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  *value = v;
  return true;
}

}  // namespace

void AppendRespCommand(std::initializer_list<std::string_view> args, std::string* out) {
  *out += '*';
  *out += std::to_string(args.size());
  *out += "\r\n";
  for (std::string_view a : args) {
    *out += '$';
    *out += std::to_string(a.size());
    *out += "\r\n";
    *out += a;
    *out += "\r\n";
  }
}

Parse ParseResp(std::string_view in, RespReply* reply, size_t* consumed) {
  return ParseRespAt(in, 0, 0, reply, consumed);
}

void AppendHttpPost(std::string_view host, std::string_view path, std::string_view body,
                    std::string* out) {
  *out += "POST ";
  *out += path;
  *out += " HTTP/1.1\r\nHost: ";
  *out += host;
  *out += "\r\nContent-Type: application/json\r\nContent-Length: ";
  *out += std::to_string(body.size());
  *out += "\r\n\r\n";
  *out += body;
}

Parse ParseHttpResponse(std::string_view in, HttpResponse* response, size_t* consumed) {
  const size_t header_end = in.find("\r\n\r\n");
  if (header_end == std::string_view::npos) {
    return in.size() > kMaxHttpHeaderBytes ? Parse::kMalformed : Parse::kIncomplete;
  }
  std::string_view status_line;
  size_t pos = 0;
  Line(in, 0, &status_line, &pos);
  // "HTTP/1.1 200 OK"
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") return Parse::kMalformed;
  int64_t status = 0;
  if (!ToInt(status_line.substr(9, 3), &status)) return Parse::kMalformed;
  int64_t content_length = -1;
  bool chunked = false;
  while (pos < header_end + 2) {
    std::string_view line, value;
    Line(in, pos, &line, &pos);
    if (HeaderIs(line, "content-length", &value)) {
      if (!ToInt(value, &content_length) || content_length < 0) return Parse::kMalformed;
    } else if (HeaderIs(line, "transfer-encoding", &value)) {
      chunked = value.find("chunked") != std::string_view::npos;
    }
  }
  pos = header_end + 4;
  response->status = static_cast<int>(status);
  response->body.clear();
  if (chunked) {
    for (;;) {
      std::string_view size_line;
      size_t data = 0;
      if (!Line(in, pos, &size_line, &data)) return Parse::kIncomplete;
      size_line = size_line.substr(0, size_line.find(';'));
      uint64_t size = 0;
      const auto [p, ec] =
          std::from_chars(size_line.data(), size_line.data() + size_line.size(), size, 16);
      if (ec != std::errc() || size_line.empty()) return Parse::kMalformed;
      if (size == 0) {  // Trailers (none expected), then the final CRLF.
        std::string_view trailer;
        do {
          if (!Line(in, data, &trailer, &data)) return Parse::kIncomplete;
        } while (!trailer.empty());
        *consumed = data;
        return Parse::kDone;
      }
      if (in.size() < data + size + 2) return Parse::kIncomplete;
      response->body.append(in.substr(data, size));
      pos = data + size + 2;
    }
  }
  const size_t length = content_length < 0 ? 0 : static_cast<size_t>(content_length);
  if (in.size() < pos + length) return Parse::kIncomplete;
  response->body.assign(in.substr(pos, length));
  *consumed = pos + length;
  return Parse::kDone;
}

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += kAlphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += rest == 2 ? kAlphabet[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace dialkv::bench
