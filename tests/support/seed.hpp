// Seeding a test database: an owner, its websites and deterministic events written straight into
// PostgreSQL (no daemon, no ingest), for the tests that compare answers with fixed data.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "db/connection.hpp"

namespace mp::test::seed {

inline constexpr const char* kOwnerEmail = "owner@example.com";
inline constexpr const char* kOwnerPassword = "password123";

/// Creates the test owner (owner@example.com, password123, the cheapest bcrypt cost); its id.
std::string owner(db::Connection& conn, const std::string& email = kOwnerEmail);

/// Creates a website of `owner`; its id.
std::string website(db::Connection& conn, const std::string& owner, const std::string& name,
                    const std::string& domain);

/// Creates one website per (name, domain) of `owner`, in order; their ids.
std::vector<std::string> websites(db::Connection& conn, const std::string& owner,
                                  const std::vector<std::pair<std::string, std::string>>& sites);

/// The start of a UTC day in milliseconds since the epoch.
std::int64_t dayStartMs(std::chrono::sys_days day);

/// One row of `events`; an empty optional is NULL. The columns not named here keep their
/// defaults.
struct Event {
  std::string website{};
  /// A timestamptz text, e.g. "2025-10-31 23:59:59.999+00" or RFC 3339.
  std::string ts;
  std::string type = "pageview";
  std::optional<std::string> page{};
  std::optional<std::string> session{};
  std::optional<std::int64_t> visitor{};
  std::optional<std::string> referrer{};  ///< referrer_host
  std::optional<std::string> browser{};
  std::optional<std::string> os{};
  std::optional<std::string> device{};
  std::optional<std::string> country{};
  std::optional<std::string> source{};
  std::optional<std::string> channel{};
  std::optional<std::string> utmCampaign{};
  std::optional<std::string> props{};  ///< a JSON object's text
  bool interactive = true;
};

/// An optional text from a possibly null C string, for filling Event from fixed value lists.
std::optional<std::string> text(const char* value);

/// Inserts the events in one statement (website_id, ts, event_type, page, session_id, visitor_id,
/// referrer_host, browser, os, device, country, source, channel, utm_campaign, props,
/// interactive); the number inserted.
std::size_t insertEvents(db::Connection& conn, const std::vector<Event>& events);

}  // namespace mp::test::seed
