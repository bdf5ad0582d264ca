// Goals as engine filters, funnels through stats::funnel(), shaped for the reports.
#include "stats/conversions.hpp"

#include "stats/engine.hpp"
#include "util/time.hpp"
#include "util/uuid.hpp"

namespace mp::stats {
namespace {

using json = nlohmann::json;

Query questionOf(const Scope& scope) {
  Query q;
  q.websiteId = util::canonicalUuid(scope.websiteId).value_or(scope.websiteId);
  q.timeZone = scope.timeZone;
  q.range = scope.range;
  q.filters = scope.filters;
  q.metrics = {Metric::kVisitors, Metric::kEvents};
  return q;
}

Totals totalsOf(db::Connection& conn, const Query& q) {
  const auto answer = run(conn, q);
  return answer.rows.empty() ? Totals{} : answer.rows.front().totals;
}

json goalRow(const goals::Goal& goal, const Totals& t, std::int64_t visitors) {
  json row = goals::toJson(goal);
  row["goalId"] = row["id"];
  row.erase("id");
  row.erase("createdAt");
  row["visitors"] = t.visitors;
  row["events"] = t.events;
  row["conversionRate"] = percent(t.visitors, visitors);
  return row;
}

// "imported" of a goals or funnel report (as the other reports say it, stats.hpp): the imported
// aggregate days of the range, and which goals (or the funnel) cannot count them.
std::optional<json> importedOf(db::Connection& conn, const Query& q,
                               const std::vector<std::pair<std::string, Query>>& questions) {
  const auto days = importedDays(conn, q);
  if (!days) return std::nullopt;
  json out = {{"days", days->days},
              {"from", util::formatDate(days->first)},
              {"to", util::formatDate(days->last)},
              {"included", days->included},
              {"unavailable", json::array()}};
  if (!days->included) out["reason"] = days->reason;
  json without = json::array();
  for (const auto& [name, question] : questions) {
    const auto d = importedDays(conn, question);
    if (d && !d->included) without.push_back(name);
  }
  if (!without.empty()) out["goalsWithout"] = std::move(without);
  return out;
}

}  // namespace

double percent(std::int64_t part, std::int64_t whole) {
  if (whole <= 0) return 0.0;
  return static_cast<double>((2 * part * 10'000 + whole) / (2 * whole)) / 100.0;
}

std::vector<Filter> goalFilters(const goals::Goal& goal) {
  if (goal.kind == goals::Kind::kEvent) {
    return {Filter{*dimensionNamed("event_type"), FilterOp::kIs, {goal.target}}};
  }
  Filter page{*dimensionNamed("page"), FilterOp::kIs, {goal.target}};
  if (goal.target.find('*') != std::string::npos) {
    page.op = FilterOp::kMatches;
    page.values = {goal.pageRegex};
  }
  return {Filter{*dimensionNamed("event_type"), FilterOp::kIs, {"pageview"}}, page};
}

FunnelStep funnelStep(const goals::Goal& goal) {
  return goal.kind == goals::Kind::kEvent ? FunnelStep{false, goal.target}
                                          : FunnelStep{true, goal.pageRegex};
}

json goalsReport(db::Connection& conn, const Scope& scope, const std::vector<goals::Goal>& goals) {
  const Query base = questionOf(scope);
  const auto report = [&conn, &goals](const Query& q, json& out) {
    const std::int64_t visitors = totalsOf(conn, q).visitors;
    out["visitors"] = visitors;
    std::vector<GoalQuestion> questions;
    for (const auto& goal : goals) questions.push_back({goal.id, goalFilters(goal)});
    const auto totals = goalTotals(conn, q, questions);
    json rows = json::array();
    for (std::size_t i = 0; i < goals.size(); ++i) {
      rows.push_back(goalRow(goals[i], totals[i], visitors));
    }
    return rows;
  };
  json out = {{"websiteId", base.websiteId},
              {"from", util::formatDate(scope.range.from)},
              {"to", util::formatDate(scope.range.to)}};
  json rows = report(base, out);
  if (scope.compare) {
    Query other = base;
    other.range = comparisonRange(scope.range, *scope.compare);
    json comparison = {{"from", util::formatDate(other.range.from)},
                       {"to", util::formatDate(other.range.to)}};
    const json previous = report(other, comparison);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      rows[i]["comparison"] = {{"visitors", previous[i]["visitors"]},
                               {"events", previous[i]["events"]},
                               {"conversionRate", previous[i]["conversionRate"]}};
    }
    out["comparison"] = std::move(comparison);
  }
  out["goals"] = std::move(rows);
  // A goal whose question imported aggregates cannot answer (a page pattern with *) does not
  // count imported days; the others do.
  std::vector<std::pair<std::string, Query>> questions;
  for (const auto& goal : goals) {
    Query g = base;
    for (auto& f : goalFilters(goal)) g.filters.push_back(std::move(f));
    questions.emplace_back(goal.name, std::move(g));
  }
  if (auto imported = importedOf(conn, base, questions)) out["imported"] = std::move(*imported);
  return out;
}

json funnelReport(db::Connection& conn, const Scope& scope, const goals::Funnel& funnel) {
  // Funnels follow each visit's events in order: imported aggregate days have none, so the
  // visitors the first step is a share of leave them out too.
  Query q = questionOf(scope);
  q.withImported = false;
  std::vector<FunnelStep> steps;
  for (const auto& goal : funnel.steps) steps.push_back(funnelStep(goal));
  const auto reached = stats::funnel(conn, q, steps, funnel.id);
  const std::int64_t visitors = totalsOf(conn, q).visitors;
  json rows = json::array();
  for (std::size_t i = 0; i < funnel.steps.size(); ++i) {
    const std::int64_t previous = i == 0 ? visitors : reached[i - 1].visitors;
    const std::int64_t here = reached[i].visitors;
    rows.push_back({{"goalId", funnel.steps[i].id},
                    {"name", funnel.steps[i].name},
                    {"visitors", here},
                    {"visits", reached[i].visits},
                    {"dropoff", i == 0 ? 0 : previous - here},
                    {"dropoffRate", i == 0 ? 0.0 : percent(previous - here, previous)},
                    {"conversionRate", percent(here, reached[0].visitors)},
                    {"conversionRateStep", percent(here, previous)}});
  }
  json out = {{"websiteId", q.websiteId},
              {"funnelId", funnel.id},
              {"name", funnel.name},
              {"from", util::formatDate(scope.range.from)},
              {"to", util::formatDate(scope.range.to)},
              {"visitors", visitors},
              {"steps", std::move(rows)}};
  if (const auto days = importedDays(conn, questionOf(scope))) {
    out["imported"] = {
        {"days", days->days},
        {"from", util::formatDate(days->first)},
        {"to", util::formatDate(days->last)},
        {"included", false},
        {"reason",
         "funnels follow each visit's events in order; imported daily aggregates have none"},
        {"unavailable", json::array()}};
  }
  if (scope.compare) {
    Query other = q;
    other.range = comparisonRange(scope.range, *scope.compare);
    const auto before = stats::funnel(conn, other, steps, funnel.id);
    const std::int64_t visitorsBefore = totalsOf(conn, other).visitors;
    json previous = json::array();
    for (std::size_t i = 0; i < before.size(); ++i) {
      previous.push_back({{"visitors", before[i].visitors},
                          {"conversionRate", percent(before[i].visitors, before[0].visitors)}});
      out["steps"][i]["comparison"] = previous.back();
    }
    out["comparison"] = {{"from", util::formatDate(other.range.from)},
                         {"to", util::formatDate(other.range.to)},
                         {"visitors", visitorsBefore}};
  }
  return out;
}

}  // namespace mp::stats
