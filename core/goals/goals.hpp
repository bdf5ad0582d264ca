// Goals and funnels of a website (docs/metrics.md "Goals", "Funnels"): checking, storing, listing
// and deleting them. Shared by HTTP and mpctl; the stats of them are in stats/conversions.hpp.
#pragma once

#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/connection.hpp"

namespace mp::goals {

enum class Kind { kEvent, kPage };

struct Goal {
  std::string id;
  std::string websiteId;
  Kind kind = Kind::kEvent;
  std::string target;     ///< the event name, or the page path pattern (see pageRegex())
  std::string pageRegex;  ///< kPage: pageRegex(target); empty for kEvent
  std::string name;       ///< shown in reports; the target unless given
  std::string createdAt;  ///< RFC 3339, UTC
};

struct Funnel {
  std::string id;
  std::string websiteId;
  std::string name;
  std::vector<Goal> steps;  ///< in order
  std::string createdAt;
};

/// What a goal is made of: exactly one of eventName and pagePath, and an optional name.
struct GoalSpec {
  std::optional<std::string> eventName{};
  std::optional<std::string> pagePath{};
  std::optional<std::string> name{};
};

inline constexpr std::size_t kMaxEventName = 64;  ///< as /track takes an eventType
inline constexpr std::size_t kMaxPagePath = 500;
inline constexpr int kMinFunnelSteps = 2;
inline constexpr int kMaxFunnelSteps = 8;
/// The most goals and funnels one website may have.
inline constexpr int kMaxGoals = 100;
inline constexpr int kMaxFunnels = 50;

/// Adds a goal to the website (which the caller has found). Throws InvalidInput naming
/// "eventName", "pagePath" or "name" (neither or both given, empty, too long, not UTF-8, a page
/// path not starting with '/'), Conflict("goal_exists") for a goal the website has already,
/// Conflict("too_many_goals") past kMaxGoals, DbError.
Goal addGoal(db::Connection& conn, std::string_view websiteId, const GoalSpec& spec);

/// The website's goals, oldest first.
std::vector<Goal> listGoals(db::Connection& conn, std::string_view websiteId);

/// Deletes the website's goal; false when it has no such goal (a malformed id included). Throws
/// Conflict("goal_in_use") naming the funnels that use it.
bool deleteGoal(db::Connection& conn, std::string_view websiteId, std::string_view goalId);

/// Adds a funnel of the website's goals `goalIds`, in order. Throws InvalidInput("name"),
/// InvalidInput("steps") (fewer than kMinFunnelSteps or more than kMaxFunnelSteps goals, a goal
/// twice in a row, an id that is not one of the website's goals), Conflict("funnel_exists") for a
/// name the website uses already, Conflict("too_many_funnels") past kMaxFunnels, DbError.
Funnel addFunnel(db::Connection& conn, std::string_view websiteId, std::string_view name,
                 const std::vector<std::string>& goalIds);

/// The website's funnels with their steps, oldest first.
std::vector<Funnel> listFunnels(db::Connection& conn, std::string_view websiteId);

/// The website's funnel; nullopt when it has none by that id.
std::optional<Funnel> findFunnel(db::Connection& conn, std::string_view websiteId,
                                 std::string_view funnelId);

/// Deletes the website's funnel; false when it has none by that id.
bool deleteFunnel(db::Connection& conn, std::string_view websiteId, std::string_view funnelId);

/// A page path pattern as a regular expression PostgreSQL and RE2 read alike, matching whole
/// paths: '*' stands for any text without '/', '**' for any text; everything else is itself
/// ("/blog/*" → "(?s)^\/blog\/[^/]*$").
std::string pageRegex(std::string_view pattern);

/// "event" or "page".
std::string_view name(Kind kind);

/// {"id","type":"event"|"page","eventName"|"pagePath","name","createdAt"}
nlohmann::json toJson(const Goal& goal);
/// {"id","name","steps":[goal…],"createdAt"}
nlohmann::json toJson(const Funnel& funnel);

}  // namespace mp::goals
