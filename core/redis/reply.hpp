// A Redis reply as an owning value, so no hiredis type escapes core/redis.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mp::redis {

/// One RESP2 reply: nil, status, error, integer, bulk string or array of replies.
class Reply {
 public:
  enum class Type { kNil, kStatus, kError, kInteger, kString, kArray };

  /// A nil reply.
  Reply() = default;
  /// Factories for each kind of reply.
  static Reply nil() { return Reply(); }
  static Reply status(std::string text);
  static Reply error(std::string message);
  static Reply integer(std::int64_t value);
  static Reply string(std::string bytes);
  static Reply array(std::vector<Reply> elements);

  Type type() const noexcept { return type_; }
  bool isNil() const noexcept { return type_ == Type::kNil; }
  bool isStatus() const noexcept { return type_ == Type::kStatus; }
  bool isError() const noexcept { return type_ == Type::kError; }
  bool isInteger() const noexcept { return type_ == Type::kInteger; }
  bool isString() const noexcept { return type_ == Type::kString; }
  bool isArray() const noexcept { return type_ == Type::kArray; }

  /// The bytes of a string, the text of a status or the message of an error; throws RedisError
  /// for any other type.
  const std::string& str() const;
  /// The value of an integer reply; throws RedisError for any other type.
  std::int64_t integer() const;
  /// The elements of an array reply; throws RedisError for any other type.
  const std::vector<Reply>& elements() const;

  /// Throws RedisError carrying the message when this is an error reply; otherwise does nothing.
  const Reply& throwIfError() const;
  /// True for the status reply "OK" (what SET, SELECT and friends answer).
  bool isOk() const noexcept { return type_ == Type::kStatus && str_ == "OK"; }

  /// A short human rendering for messages and test failures, e.g. `(error) ERR …`.
  std::string debugString() const;

  friend bool operator==(const Reply&, const Reply&) = default;

 private:
  Type type_ = Type::kNil;
  std::string str_;
  std::int64_t integer_ = 0;
  std::vector<Reply> elements_;
};

/// "nil", "status", "error", "integer", "string" or "array".
std::string_view typeName(Reply::Type type) noexcept;

/// Decodes raw RESP2 bytes, as a server sends them, into replies through hiredis's own reader;
/// throws RedisError on a protocol error or a truncated reply. For tests and captured traffic.
std::vector<Reply> decodeResp(std::string_view bytes);

}  // namespace mp::redis
