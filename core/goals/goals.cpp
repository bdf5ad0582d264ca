#include "goals/goals.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "db/sqlstate.hpp"
#include "util/error.hpp"
#include "util/utf8.hpp"
#include "util/uuid.hpp"

namespace mp::goals {
namespace {

constexpr const char* kGoalColumns =
    "g.id::text, g.website_id::text, g.kind, g.target, coalesce(g.page_regex, ''), g.name,"
    " to_char(g.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

Goal goalAt(const db::Result& r, int i, int c = 0) {
  Goal g;
  g.id = r.get(i, c);
  g.websiteId = r.get(i, c + 1);
  g.kind = r.get(i, c + 2) == std::string_view("page") ? Kind::kPage : Kind::kEvent;
  g.target = r.get(i, c + 3);
  g.pageRegex = r.get(i, c + 4);
  g.name = r.get(i, c + 5);
  g.createdAt = r.get(i, c + 6);
  return g;
}

std::string trim(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

// Text of 1 to `max` characters of valid UTF-8 without NUL, trimmed.
std::string checkText(const std::string& text, const char* field, std::size_t max) {
  std::string t = trim(text);
  if (t.empty()) throw InvalidInput(field, fmt::format("{} must not be empty", field));
  if (!util::isValidUtf8(t) || util::utf8LengthUnlessNul(t) == util::kHoldsNul) {
    throw InvalidInput(field, fmt::format("{} must be valid UTF-8 without NUL", field));
  }
  if (util::utf8Length(t) > max) {
    throw InvalidInput(field, fmt::format("{} must be at most {} characters", field, max));
  }
  return t;
}

std::vector<Funnel> funnelsWhere(db::Connection& conn, const std::string& condition,
                                 const db::Params& params) {
  auto r = conn.exec(
      fmt::format("SELECT f.id::text, f.website_id::text, f.name,"
                  " to_char(f.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
                  " {} FROM funnels f"
                  " JOIN funnel_steps s ON s.website_id = f.website_id AND s.funnel_id = f.id"
                  " JOIN goals g ON g.website_id = s.website_id AND g.id = s.goal_id WHERE {}"
                  " ORDER BY f.created_at, f.id, s.position",
                  kGoalColumns, condition),
      params);
  std::vector<Funnel> out;
  for (int i = 0; i < r.rows(); ++i) {
    if (out.empty() || out.back().id != r.get(i, 0)) {
      Funnel f;
      f.id = r.get(i, 0);
      f.websiteId = r.get(i, 1);
      f.name = r.get(i, 2);
      f.createdAt = r.get(i, 3);
      out.push_back(std::move(f));
    }
    out.back().steps.push_back(goalAt(r, i, 4));
  }
  return out;
}

}  // namespace

std::string pageRegex(std::string_view pattern) {
  std::string out = "(?s)^";
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '*') {
      const bool any = i + 1 < pattern.size() && pattern[i + 1] == '*';
      out += any ? ".*" : "[^/]*";
      if (any) ++i;
    } else if (static_cast<unsigned char>(c) < 0x80 &&
               !std::isalnum(static_cast<unsigned char>(c))) {
      out.push_back('\\');
      out.push_back(c);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('$');
  return out;
}

std::string_view name(Kind kind) {
  return kind == Kind::kPage ? "page" : "event";
}

Goal addGoal(db::Connection& conn, std::string_view websiteId, const GoalSpec& spec) {
  if (spec.eventName.has_value() == spec.pagePath.has_value()) {
    throw InvalidInput(spec.eventName ? "pagePath" : "eventName",
                       "a goal is either an eventName or a pagePath: give exactly one");
  }
  const Kind kind = spec.eventName ? Kind::kEvent : Kind::kPage;
  std::string target = kind == Kind::kEvent ? checkText(*spec.eventName, "eventName", kMaxEventName)
                                            : checkText(*spec.pagePath, "pagePath", kMaxPagePath);
  if (kind == Kind::kPage && target.front() != '/') {
    throw InvalidInput("pagePath",
                       "pagePath must start with / (a path such as /pricing or /blog/*)");
  }
  const std::string display = spec.name ? checkText(*spec.name, "name", 200) : target;
  db::Transaction tx(conn);
  // Serialises additions to one website, so the count below holds.
  conn.execArgs("SELECT 1 FROM websites WHERE id = $1::uuid FOR UPDATE", std::string(websiteId));
  if (conn.execArgs("SELECT count(*) FROM goals WHERE website_id = $1::uuid",
                    std::string(websiteId))
          .getInt(0, 0) >= kMaxGoals) {
    throw Conflict("too_many_goals", fmt::format("a website has at most {} goals", kMaxGoals));
  }
  try {
    const std::optional<std::string> regex =
        kind == Kind::kPage ? std::optional<std::string>(pageRegex(target)) : std::nullopt;
    auto r = conn.execArgs(fmt::format("INSERT INTO goals AS g (id, website_id, kind, target,"
                                       " page_regex, name) VALUES ($1, $2, $3, $4, $5, $6)"
                                       " RETURNING {}",
                                       kGoalColumns),
                           util::uuidV7(), std::string(websiteId), std::string(name(kind)), target,
                           regex, display);
    Goal goal = goalAt(r, 0);
    tx.commit();
    return goal;
  } catch (const DbError& e) {
    if (e.sqlstate() == db::kSqlstateUniqueViolation) {
      throw Conflict("goal_exists", fmt::format("the website has a goal for the {} {} already",
                                                kind == Kind::kEvent ? "event" : "page", target));
    }
    throw;
  }
}

std::vector<Goal> listGoals(db::Connection& conn, std::string_view websiteId) {
  auto r = conn.execArgs(fmt::format("SELECT {} FROM goals g WHERE g.website_id = $1::uuid"
                                     " ORDER BY g.created_at, g.id",
                                     kGoalColumns),
                         std::string(websiteId));
  std::vector<Goal> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(goalAt(r, i));
  return out;
}

bool deleteGoal(db::Connection& conn, std::string_view websiteId, std::string_view goalId) {
  const auto id = util::canonicalUuid(goalId);
  if (!id) return false;
  db::Transaction tx(conn);
  auto users = conn.execArgs(
      "SELECT string_agg(DISTINCT f.name, ', ' ORDER BY f.name) FROM funnel_steps s"
      " JOIN funnels f ON f.website_id = s.website_id AND f.id = s.funnel_id"
      " WHERE s.website_id = $1::uuid AND s.goal_id = $2::uuid",
      std::string(websiteId), *id);
  if (!users.isNull(0, 0)) {
    throw Conflict("goal_in_use", "the goal is a step of the funnels " +
                                      std::string(users.get(0, 0)) + ": delete them first");
  }
  const bool deleted =
      conn.execArgs("DELETE FROM goals WHERE website_id = $1::uuid AND id = $2::uuid",
                    std::string(websiteId), *id)
          .affected() == 1;
  tx.commit();
  return deleted;
}

Funnel addFunnel(db::Connection& conn, std::string_view websiteId, std::string_view name,
                 const std::vector<std::string>& goalIds) {
  const std::string n = checkText(std::string(name), "name", 200);
  const int count = static_cast<int>(goalIds.size());
  if (count < kMinFunnelSteps || count > kMaxFunnelSteps) {
    throw InvalidInput("steps", fmt::format("a funnel has {} to {} steps, not {}", kMinFunnelSteps,
                                            kMaxFunnelSteps, count));
  }
  std::vector<std::string> ids;
  for (const auto& g : goalIds) {
    auto id = util::canonicalUuid(g);
    if (!id) throw InvalidInput("steps", "steps are goal ids; not a goal id: " + g.substr(0, 60));
    if (!ids.empty() && ids.back() == *id) {
      throw InvalidInput("steps", "a goal cannot follow itself in a funnel: " + *id);
    }
    ids.push_back(*id);
  }
  db::Transaction tx(conn);
  conn.execArgs("SELECT 1 FROM websites WHERE id = $1::uuid FOR UPDATE", std::string(websiteId));
  for (const auto& id : ids) {
    if (conn.execArgs("SELECT 1 FROM goals WHERE website_id = $1::uuid AND id = $2::uuid",
                      std::string(websiteId), id)
            .rows() == 0) {
      throw InvalidInput("steps", "the website has no goal " + id);
    }
  }
  if (conn.execArgs("SELECT count(*) FROM funnels WHERE website_id = $1::uuid",
                    std::string(websiteId))
          .getInt(0, 0) >= kMaxFunnels) {
    throw Conflict("too_many_funnels",
                   fmt::format("a website has at most {} funnels", kMaxFunnels));
  }
  const std::string id = util::uuidV7();
  try {
    conn.execArgs("INSERT INTO funnels (id, website_id, name) VALUES ($1, $2, $3)", id,
                  std::string(websiteId), n);
  } catch (const DbError& e) {
    if (e.sqlstate() == db::kSqlstateUniqueViolation) {
      throw Conflict("funnel_exists", "the website has a funnel named " + n + " already");
    }
    throw;
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    conn.execArgs(
        "INSERT INTO funnel_steps (website_id, funnel_id, position, goal_id)"
        " VALUES ($1, $2, $3, $4)",
        std::string(websiteId), id, static_cast<int>(i + 1), ids[i]);
  }
  auto funnel = funnelsWhere(conn, "f.website_id = $1::uuid AND f.id = $2::uuid",
                             {std::string(websiteId), id});
  tx.commit();
  return funnel.at(0);
}

std::vector<Funnel> listFunnels(db::Connection& conn, std::string_view websiteId) {
  return funnelsWhere(conn, "f.website_id = $1::uuid", {std::string(websiteId)});
}

std::optional<Funnel> findFunnel(db::Connection& conn, std::string_view websiteId,
                                 std::string_view funnelId) {
  const auto id = util::canonicalUuid(funnelId);
  if (!id) return std::nullopt;
  auto found = funnelsWhere(conn, "f.website_id = $1::uuid AND f.id = $2::uuid",
                            {std::string(websiteId), *id});
  if (found.empty()) return std::nullopt;
  return found.front();
}

bool deleteFunnel(db::Connection& conn, std::string_view websiteId, std::string_view funnelId) {
  const auto id = util::canonicalUuid(funnelId);
  if (!id) return false;
  return conn.execArgs("DELETE FROM funnels WHERE website_id = $1::uuid AND id = $2::uuid",
                       std::string(websiteId), *id)
             .affected() == 1;
}

nlohmann::json toJson(const Goal& goal) {
  return {{"id", goal.id},
          {"type", name(goal.kind)},
          {goal.kind == Kind::kEvent ? "eventName" : "pagePath", goal.target},
          {"name", goal.name},
          {"createdAt", goal.createdAt}};
}

nlohmann::json toJson(const Funnel& funnel) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& g : funnel.steps) steps.push_back(toJson(g));
  return {{"id", funnel.id},
          {"name", funnel.name},
          {"steps", std::move(steps)},
          {"createdAt", funnel.createdAt}};
}

}  // namespace mp::goals
