// The login throttle's two Lua steps, each one atomic round trip.
#include "auth/login_throttle.hpp"

#include <string_view>

#include "log/log.hpp"
#include "redis/keys.hpp"
#include "redis/pool.hpp"
#include "util/error.hpp"

namespace mp::auth {

LoginThrottle::LoginThrottle(redis::Pool& redis, const LoginLimits& limits,
                             const std::string& email, const std::string& address)
    : redis_(redis),
      limits_(limits),
      emailKey_(redis::loginFailEmailKey(email)),
      addressKey_(redis::loginFailIpKey(address)) {}

long LoginThrottle::reserve() {
  // KEYS: email and address counters; ARGV: their limits, the window. Answers 0 when the
  // attempt is counted, else the seconds until the exhausted counter's window ends.
  static constexpr std::string_view kReserve = R"lua(
local limits = {tonumber(ARGV[1]), tonumber(ARGV[2])}
for i = 1, 2 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= limits[i] then
    local ttl = redis.call('TTL', KEYS[i])
    if ttl < 0 then
      redis.call('EXPIRE', KEYS[i], ARGV[3])
      ttl = tonumber(ARGV[3])
    end
    return math.max(ttl, 1)
  end
end
for i = 1, 2 do
  if redis.call('INCR', KEYS[i]) == 1 or redis.call('TTL', KEYS[i]) < 0 then
    redis.call('EXPIRE', KEYS[i], ARGV[3])
  end
end
return 0
)lua";
  try {
    const redis::Reply reply = redis_.acquire()->command(
        {"EVAL", kReserve, "2", emailKey_, addressKey_, std::to_string(limits_.maxFailures),
         std::to_string(limits_.maxFailuresPerAddress), std::to_string(limits_.window.count())});
    if (!reply.isInteger()) throw RedisError("the login throttle answered " + reply.debugString());
    return static_cast<long>(reply.integer());
  } catch (const RedisError& e) {
    log::get("auth")->warn("login throttle unavailable (redis: {}); not enforced", e.what());
    return 0;
  }
}

void LoginThrottle::succeeded() {
  static constexpr std::string_view kRefund = R"lua(
redis.call('DEL', KEYS[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
return 0
)lua";
  try {
    redis_.acquire()->command({"EVAL", kRefund, "2", emailKey_, addressKey_});
  } catch (const RedisError& e) {
    log::get("auth")->warn("could not clear the login counter (redis: {})", e.what());
  }
}

}  // namespace mp::auth
