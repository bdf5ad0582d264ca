// Telling every daemon at once that a website or an account changed (redis::kInvalidateChannel),
// shared by the daemon's handlers and mpctl.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mp::redis {
class Client;
}

namespace mp::sites {

/// Announces that a website was created: daemons that remembered its id as unknown forget it.
/// Never throws: false (logged) when Redis could not be told; daemons then learn of it within
/// their next lookup of the id or full reload.
bool announceWebsiteCreated(redis::Client& redis, std::string_view websiteId);

/// Announces that websites were deleted and drops their cached stats answers
/// (redis::statsCacheKey). Never throws: false (logged) when Redis could not be told.
bool announceWebsitesDeleted(redis::Client& redis, const std::vector<std::string>& websiteIds);

/// Announces that a website's time zone changed and drops its cached stats answers, whose days
/// were counted in the old zone. Never throws: false (logged) when Redis could not be told; the
/// answers then expire within cache.ttl_seconds.
bool announceWebsiteChanged(redis::Client& redis, std::string_view websiteId);

/// Announces that an account was deleted or its password changed, so its tokens are refused
/// everywhere at once. Never throws: false (logged) when Redis could not be told.
bool announceAccountChanged(redis::Client& redis, std::string_view userId);

}  // namespace mp::sites
