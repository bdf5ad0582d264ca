// Sentinel queries with plain hiredis: one short connection per sentinel asked.
#include "redis/sentinel.hpp"

#include <hiredis/hiredis.h>

#include <memory>

#include "util/error.hpp"

namespace mp::redis {
namespace {

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};

bool splitHostPort(const std::string& text, std::string& host, int& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  try {
    port = std::stoi(text.substr(colon + 1));
  } catch (const std::exception&) {
    return false;
  }
  return port > 0 && port < 65536;
}

}  // namespace

Url configuredUrl(const config::RedisConfig& config) {
  Url url = Url::parse(config.url);
  url.sentinels = config.sentinels;
  url.masterName = config.masterName;
  return url;
}

Url resolveMaster(const Url& url, std::chrono::milliseconds timeout) {
  if (url.sentinels.empty()) return url;
  const timeval tv{static_cast<time_t>(timeout.count() / 1000),
                   static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  std::string errors;
  for (const auto& sentinel : url.sentinels) {
    std::string host;
    int port = 0;
    if (!splitHostPort(sentinel, host, port)) continue;
    std::unique_ptr<redisContext, ContextFree> ctx(redisConnectWithTimeout(host.c_str(), port, tv));
    if (!ctx || ctx->err) {
      errors += "; " + sentinel + ": " + (ctx ? ctx->errstr : "out of memory");
      continue;
    }
    redisSetTimeout(ctx.get(), tv);
    std::unique_ptr<redisReply, ReplyFree> reply(static_cast<redisReply*>(
        redisCommand(ctx.get(), "SENTINEL get-master-addr-by-name %s", url.masterName.c_str())));
    if (!reply) {
      errors += "; " + sentinel + ": " + ctx->errstr;
      continue;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
      errors += "; " + sentinel + ": does not know a master named " + url.masterName;
      continue;
    }
    Url master = url;
    master.host = std::string(reply->element[0]->str, reply->element[0]->len);
    master.port = std::stoi(std::string(reply->element[1]->str, reply->element[1]->len));
    master.unixSocket.clear();
    return master;
  }
  throw RedisError("no sentinel named the master \"" + url.masterName + "\"" + errors);
}

bool isNotMasterError(std::string_view reply) {
  return reply.rfind("READONLY", 0) == 0 || reply.rfind("MASTERDOWN", 0) == 0;
}

}  // namespace mp::redis
