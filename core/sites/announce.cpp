// Announcements on the invalidation channel, and the removal of a deleted website's (or one whose
// time zone changed) cached stats: SCAN for its key prefix (both are rare; the stats keys carry no
// index of their own).
#include "sites/announce.hpp"

#include "log/log.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "redis/subscriber.hpp"
#include "util/error.hpp"

namespace mp::sites {
namespace {

bool publish(redis::Client& redis, const std::string& message) {
  try {
    redis::announce(redis, redis::kInvalidateChannel, message);
    return true;
  } catch (const std::exception& e) {
    log::get("redis")->warn("could not announce {} (daemons notice it at their next reload): {}",
                            message, e.what());
    return false;
  }
}

void dropCachedStats(redis::Client& redis, const std::string& websiteId) {
  const std::string pattern = redis::statsCachePattern(websiteId);
  std::string cursor = "0";
  do {
    const auto reply = redis.command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
    if (!reply.isArray() || reply.elements().size() != 2) {
      throw RedisError("SCAN answered " + reply.debugString());
    }
    cursor = reply.elements()[0].str();
    std::vector<std::string> del{"UNLINK"};
    for (const auto& key : reply.elements()[1].elements()) del.push_back(key.str());
    if (del.size() > 1) redis.command(del);
  } while (cursor != "0");
}

// The announcement of each website, then the removal of its cached stats answers.
bool announceAndDropStats(redis::Client& redis, const std::vector<std::string>& websiteIds) {
  bool ok = true;
  for (const auto& id : websiteIds) ok = publish(redis, redis::websiteChangedMessage(id)) && ok;
  for (const auto& id : websiteIds) {
    try {
      dropCachedStats(redis, id);
    } catch (const std::exception& e) {
      // They expire within cache.ttl_seconds (and no daemon serves a deleted website's:
      // ownership is checked first).
      log::get("redis")->warn("could not drop the cached stats of website {}: {}", id, e.what());
      ok = false;
    }
  }
  return ok;
}

}  // namespace

bool announceWebsiteCreated(redis::Client& redis, std::string_view websiteId) {
  return publish(redis, redis::websiteChangedMessage(websiteId));
}

bool announceWebsitesDeleted(redis::Client& redis, const std::vector<std::string>& websiteIds) {
  return announceAndDropStats(redis, websiteIds);
}

bool announceWebsiteChanged(redis::Client& redis, std::string_view websiteId) {
  return announceAndDropStats(redis, {std::string(websiteId)});
}

bool announceAccountChanged(redis::Client& redis, std::string_view userId) {
  return publish(redis, redis::accountChangedMessage(userId));
}

}  // namespace mp::sites
