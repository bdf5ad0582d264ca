// The request-head parser. The head is collected whole (it is small and bounded) and parsed
// once the blank line arrives; the search for that line resumes where it stopped, so feeding a
// byte at a time costs no more than feeding everything at once.
#include "ws/http_request.hpp"

#include <algorithm>
#include <utility>

namespace mp::ws {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kBlankLine = "\r\n\r\n";

char lowerAscii(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// RFC 9110 §5.6.2 token characters.
bool isTchar(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool isToken(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), isTchar);
}

// Field values: HTAB, SP, visible ASCII and obs-text (RFC 9110 §5.5); no other control bytes.
bool isFieldValueChar(char ch) noexcept {
  const auto c = static_cast<unsigned char>(ch);
  return c == '\t' || (c >= 0x20 && c != 0x7F);
}

std::string_view trimOws(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hexValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view queryOf(std::string_view target) noexcept {
  const auto q = target.find('?');
  return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lowerAscii(x) == lowerAscii(y);
         });
}

bool listHasToken(std::string_view list, std::string_view token) noexcept {
  while (true) {
    const auto comma = list.find(',');
    if (equalsIgnoreCase(trimOws(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

std::optional<std::string> percentDecode(std::string_view text, bool plusIsSpace) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hexValue(text[i + 1]);
      const int lo = hexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plusIsSpace) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string_view> RequestHead::header(std::string_view name) const noexcept {
  for (const auto& field : headers) {
    if (equalsIgnoreCase(field.name, name)) return std::string_view(field.value);
  }
  return std::nullopt;
}

std::size_t RequestHead::headerCount(std::string_view name) const noexcept {
  return static_cast<std::size_t>(std::count_if(headers.begin(), headers.end(), [&](const auto& f) {
    return equalsIgnoreCase(f.name, name);
  }));
}

std::string RequestHead::headerList(std::string_view name) const {
  std::string joined;
  for (const auto& field : headers) {
    if (!equalsIgnoreCase(field.name, name)) continue;
    if (!joined.empty()) joined += ", ";
    joined += field.value;
  }
  return joined;
}

std::optional<std::string> RequestHead::path() const {
  const std::string_view t(target);
  return percentDecode(t.substr(0, t.find('?')));
}

std::optional<std::string> RequestHead::queryParam(std::string_view name) const {
  std::string_view query = queryOf(target);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    const auto key = percentDecode(pair.substr(0, eq), true);
    if (key && *key == name) {
      if (eq == std::string_view::npos) return std::string();
      return percentDecode(pair.substr(eq + 1), true);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

RequestParser::RequestParser(std::size_t maxHeadBytes) noexcept : maxHeadBytes_(maxHeadBytes) {}

RequestParser::Status RequestParser::bad(int status, std::string message) {
  errorStatus_ = status;
  error_ = std::move(message);
  buffer_ = std::string();
  return status_ = Status::Bad;
}

RequestParser::Status RequestParser::feed(std::string_view data) {
  if (status_ != Status::NeedMore) {
    consumed_ = 0;
    return status_;
  }
  const std::size_t before = buffer_.size();
  const std::size_t take = std::min(data.size(), maxHeadBytes_ - before);
  buffer_.append(data.substr(0, take));
  const auto end = buffer_.find(kBlankLine, searchFrom_);
  if (end == std::string::npos) {
    consumed_ = take;
    // The blank line may straddle this piece and the next: rescan its last three bytes.
    searchFrom_ = buffer_.size() < 3 ? 0 : buffer_.size() - 3;
    if (buffer_.size() >= maxHeadBytes_) {
      return bad(431, "request head over " + std::to_string(maxHeadBytes_) + " bytes");
    }
    return status_;
  }
  const std::size_t headSize = end + kBlankLine.size();
  consumed_ = headSize - before;
  buffer_.resize(headSize);
  // Every line, the last included, ends in CRLF; the final CRLF (the blank line) is dropped.
  const Status result = parse(std::string_view(buffer_).substr(0, headSize - kCrlf.size()));
  if (result == Status::Complete) {
    buffer_ = std::string();
    status_ = Status::Complete;
  }
  return status_;
}

RequestParser::Status RequestParser::parse(std::string_view text) {
  RequestHead head;
  bool first = true;
  while (!text.empty()) {
    const auto eol = text.find(kCrlf);
    const std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol + kCrlf.size());
    // A CR or LF that is not part of a CRLF is how request smuggling starts.
    if (line.find_first_of("\r\n") != std::string_view::npos) {
      return bad(400, "bare CR or LF in the request head");
    }
    if (first) {
      first = false;
      const auto sp1 = line.find(' ');
      const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
      if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
        return bad(400, "malformed request line");
      }
      const std::string_view method = line.substr(0, sp1);
      const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      const std::string_view version = line.substr(sp2 + 1);
      if (!isToken(method)) return bad(400, "malformed request method");
      if (target.empty() || target.front() != '/' ||
          !std::all_of(target.begin(), target.end(), [](char c) { return c > 0x20 && c < 0x7F; })) {
        return bad(400, "the request target must be a path such as /ws");
      }
      if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[5] < '0' ||
          version[5] > '9' || version[6] != '.' || version[7] < '0' || version[7] > '9') {
        return bad(400, "malformed HTTP version");
      }
      head.method = method;
      head.target = target;
      head.versionMajor = version[5] - '0';
      head.versionMinor = version[7] - '0';
      continue;
    }
    if (line.empty()) return bad(400, "empty header line");
    if (line.front() == ' ' || line.front() == '\t') {
      return bad(400, "obsolete line folding in a header field");
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || !isToken(line.substr(0, colon))) {
      return bad(400, "malformed header field name");
    }
    const std::string_view value = trimOws(line.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(), isFieldValueChar)) {
      return bad(400, "control character in a header field value");
    }
    if (head.headers.size() == kMaxHeaderFields) {
      return bad(431, "more than " + std::to_string(kMaxHeaderFields) + " header fields");
    }
    head.headers.push_back({std::string(line.substr(0, colon)), std::string(value)});
  }
  head_ = std::move(head);
  return Status::Complete;
}

}  // namespace mp::ws
