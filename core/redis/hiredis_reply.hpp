// Conversion of hiredis reply objects into Reply values; internal to core/redis.
#pragma once

#include "redis/reply.hpp"

struct redisReply;

namespace mp::redis::detail {

/// Deep-copies a hiredis reply (which the caller still frees); throws RedisError on an unknown
/// type.
Reply fromHiredis(const redisReply& reply);

/// Frees a hiredis reply object; for std::unique_ptr.
struct ReplyDeleter {
  void operator()(redisReply* reply) const noexcept;
};

}  // namespace mp::redis::detail
