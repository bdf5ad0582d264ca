// Reply accessors, and the one place hiredis reply objects become Reply values.
#include "redis/reply.hpp"

#include <hiredis/hiredis.h>

#include <memory>
#include <utility>

#include "redis/hiredis_reply.hpp"
#include "util/error.hpp"

namespace mp::redis {
namespace {

[[noreturn]] void wrongType(Reply::Type actual, std::string_view wanted) {
  throw RedisError("expected a Redis " + std::string(wanted) + " reply, got " +
                   std::string(typeName(actual)));
}

struct ReaderDeleter {
  void operator()(redisReader* reader) const noexcept { redisReaderFree(reader); }
};

}  // namespace

Reply Reply::status(std::string text) {
  Reply r;
  r.type_ = Type::kStatus;
  r.str_ = std::move(text);
  return r;
}

Reply Reply::error(std::string message) {
  Reply r;
  r.type_ = Type::kError;
  r.str_ = std::move(message);
  return r;
}

Reply Reply::integer(std::int64_t value) {
  Reply r;
  r.type_ = Type::kInteger;
  r.integer_ = value;
  return r;
}

Reply Reply::string(std::string bytes) {
  Reply r;
  r.type_ = Type::kString;
  r.str_ = std::move(bytes);
  return r;
}

Reply Reply::array(std::vector<Reply> elements) {
  Reply r;
  r.type_ = Type::kArray;
  r.elements_ = std::move(elements);
  return r;
}

const std::string& Reply::str() const {
  if (type_ != Type::kString && type_ != Type::kStatus && type_ != Type::kError) {
    wrongType(type_, "string");
  }
  return str_;
}

std::int64_t Reply::integer() const {
  if (type_ != Type::kInteger) wrongType(type_, "integer");
  return integer_;
}

const std::vector<Reply>& Reply::elements() const {
  if (type_ != Type::kArray) wrongType(type_, "array");
  return elements_;
}

const Reply& Reply::throwIfError() const {
  if (type_ == Type::kError) throw RedisError("Redis replied with an error: " + str_);
  return *this;
}

std::string Reply::debugString() const {
  switch (type_) {
    case Type::kNil:
      return "(nil)";
    case Type::kStatus:
      return str_;
    case Type::kError:
      return "(error) " + str_;
    case Type::kInteger:
      return "(integer) " + std::to_string(integer_);
    case Type::kString:
      return "\"" + str_ + "\"";
    case Type::kArray: {
      std::string out = "[";
      for (std::size_t i = 0; i < elements_.size(); ++i) {
        if (i != 0) out += ", ";
        out += elements_[i].debugString();
      }
      return out + "]";
    }
  }
  return "(unknown)";
}

std::string_view typeName(Reply::Type type) noexcept {
  switch (type) {
    case Reply::Type::kNil:
      return "nil";
    case Reply::Type::kStatus:
      return "status";
    case Reply::Type::kError:
      return "error";
    case Reply::Type::kInteger:
      return "integer";
    case Reply::Type::kString:
      return "string";
    case Reply::Type::kArray:
      return "array";
  }
  return "unknown";
}

std::vector<Reply> decodeResp(std::string_view bytes) {
  // hiredis's reader silently waits for more input when a reply is cut short. A sentinel reply
  // fed after the input tells the two apart through the public API alone: it comes back intact
  // only when the input ended exactly between replies; otherwise a partial reply swallows it.
  constexpr std::string_view kSentinel = "+\x01mp-end-of-input\r\n";
  const std::unique_ptr<redisReader, ReaderDeleter> reader(redisReaderCreate());
  if (!reader) throw RedisError("out of memory creating a RESP reader");
  if (redisReaderFeed(reader.get(), bytes.data(), bytes.size()) != REDIS_OK ||
      redisReaderFeed(reader.get(), kSentinel.data(), kSentinel.size()) != REDIS_OK) {
    throw RedisError(std::string("RESP reader: ") + reader->errstr);
  }
  std::vector<Reply> replies;
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) {
      throw RedisError(std::string("malformed RESP: ") + reader->errstr);
    }
    if (raw == nullptr) break;
    const std::unique_ptr<redisReply, detail::ReplyDeleter> reply(static_cast<redisReply*>(raw));
    replies.push_back(detail::fromHiredis(*reply));
  }
  const Reply sentinel = Reply::status(std::string(kSentinel.substr(1, kSentinel.size() - 3)));
  if (replies.empty() || replies.back() != sentinel) {
    throw RedisError("truncated RESP: the input ends inside a reply");
  }
  replies.pop_back();
  return replies;
}

namespace detail {

Reply fromHiredis(const redisReply& reply) {
  switch (reply.type) {
    case REDIS_REPLY_NIL:
      return Reply::nil();
    case REDIS_REPLY_STATUS:
      return Reply::status(std::string(reply.str, reply.len));
    case REDIS_REPLY_ERROR:
      return Reply::error(std::string(reply.str, reply.len));
    case REDIS_REPLY_INTEGER:
      return Reply::integer(reply.integer);
    case REDIS_REPLY_STRING:
      return Reply::string(std::string(reply.str, reply.len));
    case REDIS_REPLY_ARRAY: {
      std::vector<Reply> elements;
      elements.reserve(reply.elements);
      for (std::size_t i = 0; i < reply.elements; ++i) {
        elements.push_back(fromHiredis(*reply.element[i]));
      }
      return Reply::array(std::move(elements));
    }
    default:
      throw RedisError("unknown Redis reply type " + std::to_string(reply.type));
  }
}

void ReplyDeleter::operator()(redisReply* reply) const noexcept {
  freeReplyObject(reply);
}

}  // namespace detail
}  // namespace mp::redis
