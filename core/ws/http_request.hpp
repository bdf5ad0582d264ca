// An incremental parser for the head of an HTTP/1.x request (request line and header fields),
// enough for a WebSocket server to read the upgrade request from a raw socket.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mp::ws {

/// Largest request head (request line, header fields, blank line) accepted by default.
inline constexpr std::size_t kMaxRequestHeadBytes = std::size_t{8} * 1024;
/// Most header fields one request may carry.
inline constexpr std::size_t kMaxHeaderFields = 100;

/// One header field as received: the name in its original case, the value without the white
/// space around it.
struct HeaderField {
  std::string name;
  std::string value;

  bool operator==(const HeaderField&) const = default;
};

/// The parsed head of a request.
struct RequestHead {
  std::string method;    ///< e.g. "GET" (case-sensitive, as HTTP says)
  std::string target;    ///< the request target as sent, always origin-form: "/ws?token=…"
  int versionMajor = 0;  ///< 1 for HTTP/1.1
  int versionMinor = 0;  ///< 1 for HTTP/1.1
  std::vector<HeaderField> headers;  ///< in the order received

  bool operator==(const RequestHead&) const = default;

  /// The value of the first header field called `name` (case-insensitive), nullopt when there is
  /// none. Never throws.
  std::optional<std::string_view> header(std::string_view name) const noexcept;
  /// How many header fields are called `name` (case-insensitive). Never throws.
  std::size_t headerCount(std::string_view name) const noexcept;
  /// Every value of the fields called `name` joined with ", " (how RFC 9110 §5.3 combines a
  /// list-valued field sent more than once); empty when there is none.
  std::string headerList(std::string_view name) const;
  /// The path of the target (before any '?'), percent-decoded; nullopt when an escape is
  /// malformed.
  std::optional<std::string> path() const;
  /// The first query parameter called `name`, percent-decoded with '+' as a space (form
  /// encoding); nullopt when it is absent or its escapes are malformed.
  std::optional<std::string> queryParam(std::string_view name) const;
};

/// Decodes %XX escapes (and '+' as a space when `plusIsSpace`); nullopt on a '%' not followed
/// by two hex digits. Throws only std::bad_alloc.
std::optional<std::string> percentDecode(std::string_view text, bool plusIsSpace = false);

/// True when the comma-separated `list` holds `token` as one of its elements, compared
/// case-insensitively with the white space around elements ignored (Connection, Upgrade).
bool listHasToken(std::string_view list, std::string_view token) noexcept;

/// True when `a` and `b` are equal ignoring ASCII case. Never throws.
bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept;

/// Reads a request head from bytes fed as they arrive. Strict where leniency invites request
/// smuggling: lines end in CRLF, no white space before a field's colon, no obsolete line
/// folding, no control characters.
class RequestParser {
 public:
  enum class Status { NeedMore, Complete, Bad };

  /// A parser accepting heads of at most `maxHeadBytes`. Never throws.
  explicit RequestParser(std::size_t maxHeadBytes = kMaxRequestHeadBytes) noexcept;

  /// Takes the next bytes of the connection. NeedMore: all were taken and the head is not
  /// finished. Complete: head() is ready and consumed() says how many of these bytes belonged to
  /// it (the rest came after the head). Bad: errorStatus() and error() say why. Once Complete or
  /// Bad it stays so and takes nothing more. Throws only std::bad_alloc.
  Status feed(std::string_view data);

  /// The status of the last feed (NeedMore before any).
  Status status() const noexcept { return status_; }
  /// Bytes of the last feed() that were part of the head.
  std::size_t consumed() const noexcept { return consumed_; }
  /// The parsed head; meaningful once feed() returned Complete.
  const RequestHead& head() const noexcept { return head_; }
  /// After Bad: 431 for a head over the size limit or with too many fields, else 400.
  int errorStatus() const noexcept { return errorStatus_; }
  /// After Bad: what was wrong, for the answer and the log.
  const std::string& error() const noexcept { return error_; }

 private:
  Status bad(int status, std::string message);
  Status parse(std::string_view text);

  std::size_t maxHeadBytes_;
  std::string buffer_;
  std::size_t searchFrom_ = 0;  // where the search for the blank line resumes
  Status status_ = Status::NeedMore;
  std::size_t consumed_ = 0;
  RequestHead head_;
  int errorStatus_ = 0;
  std::string error_;
};

}  // namespace mp::ws
