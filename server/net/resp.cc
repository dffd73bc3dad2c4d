#include "server/net/resp.h"

#include <algorithm>
#include <charconv>

namespace dialkv::net::resp {
namespace {

enum class Line { kComplete, kIncomplete, kTooLong };

// Finds the "\r\n"-terminated line that starts at `pos`; sets *end to the index of its '\r'.
Line FindLine(std::string_view input, size_t pos, uint32_t max_bytes, size_t* end) {
  const size_t cr = input.find("\r\n", pos);
  if (cr == std::string_view::npos) {
    // A lone trailing '\r' may be the start of the terminator.
    const size_t have = input.size() - pos;
    return have > max_bytes ? Line::kTooLong : Line::kIncomplete;
  }
  if (cr - pos > max_bytes) return Line::kTooLong;
  *end = cr;
  return Line::kComplete;
}

// A length ("-1", "12"): the whole text must be a decimal integer.
bool ParseLength(std::string_view text, int64_t* value) {
  if (text.empty()) return false;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && ptr == text.data() + text.size();
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

// Splits an inline command line as Redis's sdssplitargs does. False: unbalanced quotes (or a
// closing quote not followed by a space).
bool SplitInline(std::string_view line, std::vector<std::string>* args) {
  size_t i = 0;
  while (true) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    if (i == line.size()) return true;
    std::string word;
    bool in_double = false;
    bool in_single = false;
    while (true) {
      if (in_double) {
        if (i == line.size()) return false;
        if (line[i] == '\\' && i + 3 < line.size() && line[i + 1] == 'x' &&
            HexDigit(line[i + 2]) >= 0 && HexDigit(line[i + 3]) >= 0) {
          word.push_back(static_cast<char>(HexDigit(line[i + 2]) * 16 + HexDigit(line[i + 3])));
          i += 4;
        } else if (line[i] == '\\' && i + 1 < line.size()) {
          const char c = line[i + 1];
          word.push_back(c == 'n'   ? '\n'
                         : c == 'r' ? '\r'
                         : c == 't' ? '\t'
                         : c == 'b' ? '\b'
                         : c == 'a' ? '\a'
                                    : c);
          i += 2;
        } else if (line[i] == '"') {
          ++i;
          if (i < line.size() && !IsSpace(line[i])) return false;
          in_double = false;
          break;
        } else {
          word.push_back(line[i++]);
        }
      } else if (in_single) {
        if (i == line.size()) return false;
        if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '\'') {
          word.push_back('\'');
          i += 2;
        } else if (line[i] == '\'') {
          ++i;
          if (i < line.size() && !IsSpace(line[i])) return false;
          in_single = false;
          break;
        } else {
          word.push_back(line[i++]);
        }
      } else {
        if (i == line.size() || IsSpace(line[i])) break;
        if (line[i] == '"') {
          in_double = true;
          ++i;
        } else if (line[i] == '\'') {
          in_single = true;
          ++i;
        } else {
          word.push_back(line[i++]);
        }
      }
    }
    args->push_back(std::move(word));
  }
}

ParseResult Fail(std::string* error, std::string message) {
  *error = "Protocol error: " + std::move(message);
  return ParseResult::kError;
}

ParseResult ParseInline(std::string_view input, const Limits& limits,
                        std::vector<std::string>* args, size_t* consumed, std::string* error) {
  size_t pos = 0;
  while (true) {
    const size_t lf = input.find('\n', pos);
    if (lf == std::string_view::npos) {
      if (input.size() - pos > limits.max_inline_bytes)
        return Fail(error, "too big inline request");
      *consumed = pos;
      return ParseResult::kNeedMore;
    }
    if (lf - pos > limits.max_inline_bytes) return Fail(error, "too big inline request");
    std::string_view line = input.substr(pos, lf - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    args->clear();
    if (!SplitInline(line, args)) return Fail(error, "unbalanced quotes in request");
    if (args->size() > limits.max_array_length) return Fail(error, "invalid multibulk length");
    pos = lf + 1;
    if (!args->empty()) {
      *consumed = pos;
      return ParseResult::kCommand;
    }
    // An empty line: skipped, as Redis does.
    if (pos == input.size() || input[pos] == '*') {
      *consumed = pos;
      return ParseResult::kNeedMore;
    }
  }
}

}  // namespace

ParseResult ParseCommand(std::string_view input, const Limits& limits,
                         std::vector<std::string>* args, size_t* consumed, std::string* error) {
  *consumed = 0;
  args->clear();
  if (input.empty()) return ParseResult::kNeedMore;
  if (input[0] != '*') return ParseInline(input, limits, args, consumed, error);
  size_t end = 0;
  switch (FindLine(input, 1, limits.max_inline_bytes, &end)) {
    case Line::kIncomplete:
      return ParseResult::kNeedMore;
    case Line::kTooLong:
      return Fail(error, "too big mbulk count string");
    case Line::kComplete:
      break;
  }
  int64_t count = 0;
  if (!ParseLength(input.substr(1, end - 1), &count) || count > limits.max_array_length) {
    return Fail(error, "invalid multibulk length");
  }
  size_t pos = end + 2;
  if (count <= 0) {  // "*0" and "*-1": no command; skipped, as Redis does.
    *consumed = pos;
    return ParseResult::kNeedMore;
  }
  // Reserve by what the input can hold, not by what the client claims.
  args->reserve(std::min<size_t>(static_cast<size_t>(count), (input.size() - pos) / 4 + 1));
  for (int64_t i = 0; i < count; ++i) {
    if (pos >= input.size()) return ParseResult::kNeedMore;
    if (input[pos] != '$') {
      return Fail(error, "expected '$', got '" + std::string(1, input[pos]) + "'");
    }
    switch (FindLine(input, pos + 1, limits.max_inline_bytes, &end)) {
      case Line::kIncomplete:
        args->clear();
        return ParseResult::kNeedMore;
      case Line::kTooLong:
        return Fail(error, "too big bulk count string");
      case Line::kComplete:
        break;
    }
    int64_t length = 0;
    if (!ParseLength(input.substr(pos + 1, end - pos - 1), &length) || length < 0 ||
        static_cast<uint64_t>(length) > limits.max_bulk_bytes) {
      return Fail(error, "invalid bulk length");
    }
    pos = end + 2;
    const auto bytes = static_cast<size_t>(length);
    if (pos + bytes + 2 > limits.max_command_bytes) {
      return Fail(error,
                  "command of more than " + std::to_string(limits.max_command_bytes) + " bytes");
    }
    if (input.size() - pos < bytes + 2) {
      args->clear();
      return ParseResult::kNeedMore;
    }
    if (input[pos + bytes] != '\r' || input[pos + bytes + 1] != '\n') {
      return Fail(error, "bulk string not followed by CRLF");
    }
    args->emplace_back(input.substr(pos, bytes));
    pos += bytes + 2;
  }
  *consumed = pos;
  return ParseResult::kCommand;
}

namespace {

void AppendLine(std::string* out, char type, std::string_view text) {
  out->push_back(type);
  const size_t start = out->size();
  out->append(text);
  for (size_t i = start; i < out->size(); ++i) {
    if ((*out)[i] == '\r' || (*out)[i] == '\n') (*out)[i] = ' ';
  }
  out->append("\r\n");
}

}  // namespace

void Writer::SimpleString(std::string_view s) { AppendLine(out_, '+', s); }

void Writer::Error(std::string_view prefix_and_message) {
  AppendLine(out_, '-', prefix_and_message);
}

void Writer::Integer(int64_t value) { AppendLine(out_, ':', std::to_string(value)); }

void Writer::Bulk(std::string_view bytes) {
  AppendLine(out_, '$', std::to_string(bytes.size()));
  out_->append(bytes);
  out_->append("\r\n");
}

void Writer::Null() {
  if (version_ >= 3) {
    out_->append("_\r\n");
  } else {
    out_->append("$-1\r\n");
  }
}

void Writer::ArrayHeader(size_t elements) { AppendLine(out_, '*', std::to_string(elements)); }

void Writer::MapHeader(size_t pairs) {
  if (version_ >= 3) {
    AppendLine(out_, '%', std::to_string(pairs));
  } else {
    ArrayHeader(pairs * 2);
  }
}

}  // namespace dialkv::net::resp
