// The numbers come from stats::run() with the website's time zone, so a report says what the
// dashboard says for the same days. The HTML is built for mail clients: one table layout,
// inline styles only, every text escaped.
#include "reports/report.hpp"

#include <cmath>
#include <cstdio>

#include "goals/goals.hpp"
#include "stats/conversions.hpp"
#include "stats/engine.hpp"
#include "stats/stats.hpp"
#include "util/time.hpp"

namespace mp::reports {
namespace {

using stats::Metric;

const std::vector<Metric> kTotals = {Metric::kVisitors,   Metric::kVisits,
                                     Metric::kPageviews,  Metric::kEvents,
                                     Metric::kBounceRate, Metric::kVisitDuration};

stats::Query question(const sites::Website& website, const stats::DateRange& range) {
  stats::Query q;
  q.websiteId = website.id;
  q.timeZone = website.timeZone;
  q.range = range;
  q.metrics = kTotals;
  return q;
}

stats::Totals totals(db::Connection& conn, const sites::Website& website,
                     const stats::DateRange& range) {
  auto answer = stats::run(conn, question(website, range));
  return answer.rows.empty() ? stats::Totals{} : answer.rows.front().totals;
}

std::vector<Item> top(db::Connection& conn, const sites::Website& website,
                      const stats::DateRange& range, std::string_view dimension, Metric metric) {
  stats::Query q = question(website, range);
  q.metrics = {metric};
  q.dimensions = {*stats::dimensionNamed(dimension)};
  q.limit = kTopRows;
  std::vector<Item> out;
  for (const auto& row : stats::run(conn, q).rows) {
    const std::int64_t n =
        metric == Metric::kPageviews ? row.totals.pageviews : row.totals.visitors;
    if (n == 0) continue;
    std::string label = row.dimensions.empty() ? std::string() : row.dimensions.front();
    if (label.empty()) label = "Direct / None";
    out.push_back({std::move(label), n});
  }
  return out;
}

std::int64_t metricValue(Metric metric, const stats::Totals& t) {
  return static_cast<std::int64_t>(stats::value(metric, t));
}

std::string escapeHtml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string pointsChange(std::int64_t now, std::int64_t before, bool hadVisits) {
  if (!hadVisits) return "\u2013";
  const std::int64_t d = now - before;
  if (d == 0) return "\u00b10 pts";
  return (d > 0 ? "+" : "\u2212") + std::to_string(std::llabs(d)) + " pts";
}

// Pads `text` with spaces to `width` characters (UTF-8 code points), on the left or right.
std::string pad(const std::string& text, std::size_t width, bool left) {
  std::size_t length = 0;
  for (unsigned char c : text) length += (c & 0xC0) != 0x80;
  if (length >= width) return text;
  const std::string spaces(width - length, ' ');
  return left ? spaces + text : text + spaces;
}

std::string trimmed(std::string_view text, std::size_t max) {
  if (text.size() <= max) return std::string(text);
  std::size_t cut = max - 1;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "\u2026";
}

struct Line {
  std::string name;
  std::string value;
  std::string change;
};

std::vector<Line> summaryLines(const WebsiteReport& r) {
  const auto& c = r.current;
  const auto& p = r.previous;
  const std::int64_t bounce = metricValue(Metric::kBounceRate, c);
  const std::int64_t bounceBefore = metricValue(Metric::kBounceRate, p);
  const std::int64_t seconds = metricValue(Metric::kVisitDuration, c);
  const std::int64_t secondsBefore = metricValue(Metric::kVisitDuration, p);
  return {
      {"Visitors", groupDigits(c.visitors), percentChange(c.visitors, p.visitors)},
      {"Visits", groupDigits(c.visits), percentChange(c.visits, p.visits)},
      {"Page views", groupDigits(c.pageviews), percentChange(c.pageviews, p.pageviews)},
      {"Bounce rate", c.visits > 0 ? std::to_string(bounce) + "%" : "\u2013",
       c.visits > 0 ? pointsChange(bounce, bounceBefore, p.visits > 0) : "\u2013"},
      {"Visit duration", c.visits > 0 ? duration(seconds) : "\u2013",
       c.visits > 0 && p.visits > 0 ? percentChange(seconds, secondsBefore) : "\u2013"},
  };
}

std::string frequencyTitle(Period period) {
  switch (period) {
    case Period::kDay:
      return "Daily";
    case Period::kWeek:
      return "Weekly";
    case Period::kMonth:
      return "Monthly";
  }
  return "Weekly";
}

std::string dashboardLink(const WebsiteReport& r, std::string_view dashboardUrl) {
  if (dashboardUrl.empty()) return "";
  std::string base(dashboardUrl);
  while (!base.empty() && base.back() == '/') base.pop_back();
  // The dashboard's own URL state (web/dashboard/state.js).
  return base + "/?site=" + r.website.id +
         "&period=custom&from=" + util::formatDate(r.period.range.from) +
         "&to=" + util::formatDate(r.period.range.to);
}

std::string renderText(const WebsiteReport& r, std::string_view dashboardUrl) {
  std::string out;
  out += frequencyTitle(r.period.period) + " report for " + r.website.name + " (" +
         r.website.domain + ")\n";
  out += describe(r.period) + " (" + r.website.timeZone + "), compared with " +
         describePrevious(r.period) + "\n\n";
  for (const auto& line : summaryLines(r)) {
    out += pad(line.name, 16, false) + pad(line.value, 10, true) + "   " + line.change + "\n";
  }
  const auto list = [&out](const std::string& title, const std::string& unit,
                           const std::vector<Item>& items) {
    const auto units = [&unit](std::int64_t n) { return n == 1 ? unit : unit + "s"; };
    out += "\n" + title + "\n";
    if (items.empty()) out += "  (none)\n";
    for (const auto& item : items) {
      out += "  " + pad(trimmed(item.label, 48), 50, false) +
             pad(groupDigits(item.value), 10, true) + " " + units(item.value) + "\n";
    }
  };
  list("Top pages", "view", r.pages);
  list("Top sources", "visitor", r.sources);
  if (!r.goals.empty()) {
    out += "\nGoal conversions\n";
    for (const auto& g : r.goals) {
      char rate[32];
      std::snprintf(rate, sizeof rate, "%.2f%%", g.conversionRate);
      out += "  " + pad(trimmed(g.name, 48), 50, false) +
             pad(groupDigits(g.conversions), 10, true) + "  (" + rate + ")\n";
    }
  }
  const std::string link = dashboardLink(r, dashboardUrl);
  if (!link.empty()) out += "\nDashboard: " + link + "\n";
  out +=
      "\nYou receive this report because it is switched on in your MetricPulse account settings.\n";
  return out;
}

// Green for a change for the better, red for the worse, grey for none ("±0%", "–", "new").
std::string changeColour(const std::string& change, bool lowerIsBetter) {
  const bool up = change.rfind('+', 0) == 0;
  const bool down = change.rfind("\u2212", 0) == 0;
  if (!up && !down) return "#6b7280";
  return up != lowerIsBetter ? "#047857" : "#b91c1c";
}

std::string renderHtml(const WebsiteReport& r, std::string_view dashboardUrl) {
  const std::string font = "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;";
  std::string h;
  h += "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
       "content=\"width=device-width\"><title>" +
       escapeHtml(r.website.domain) + "</title></head>\n";
  h += "<body style=\"margin:0;padding:0;background:#f3f4f6;\">\n";
  h += "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" "
       "style=\"background:#f3f4f6;\"><tr><td align=\"center\" style=\"padding:24px 12px;\">\n";
  h += "<table role=\"presentation\" width=\"560\" cellpadding=\"0\" cellspacing=\"0\" "
       "style=\"max-width:560px;width:100%;background:#ffffff;border-radius:8px;" +
       font + "color:#111827;\">\n";
  h += "<tr><td style=\"padding:24px 24px 8px 24px;\"><div "
       "style=\"font-size:13px;color:#6b7280;\">" +
       frequencyTitle(r.period.period) +
       " report</div><div style=\"font-size:22px;font-weight:600;" + "margin-top:4px;\">" +
       escapeHtml(r.website.name) +
       "</div><div style=\"font-size:14px;color:#374151;margin-top:2px;\">" +
       escapeHtml(r.website.domain) + " &middot; " + escapeHtml(describe(r.period)) +
       "</div><div style=\"font-size:12px;color:#6b7280;margin-top:2px;\">compared with " +
       escapeHtml(describePrevious(r.period)) + " (" + escapeHtml(r.website.timeZone) +
       ")</div></td></tr>\n";
  h += "<tr><td style=\"padding:8px 24px;\"><table role=\"presentation\" width=\"100%\" "
       "cellpadding=\"0\" cellspacing=\"0\" style=\"border-collapse:collapse;\">\n";
  bool first = true;
  for (const auto& line : summaryLines(r)) {
    const bool lowerIsBetter = line.name == "Bounce rate";
    const std::string border = first ? "" : "border-top:1px solid #e5e7eb;";
    first = false;
    h += "<tr><td style=\"padding:8px 0;font-size:14px;color:#374151;" + border + "\">" +
         escapeHtml(line.name) + "</td><td align=\"right\" style=\"padding:8px 0;font-size:18px;" +
         "font-weight:600;" + border + "\">" + escapeHtml(line.value) +
         "</td><td align=\"right\" width=\"80\" style=\"padding:8px 0;font-size:13px;color:" +
         changeColour(line.change, lowerIsBetter) + ";" + border + "\">" + escapeHtml(line.change) +
         "</td></tr>\n";
  }
  h += "</table></td></tr>\n";
  const auto list = [&h](const std::string& title, const std::string& unit,
                         const std::vector<Item>& items) {
    const auto units = [&unit](std::int64_t n) { return n == 1 ? unit : unit + "s"; };
    h += "<tr><td style=\"padding:16px 24px 4px 24px;font-size:15px;font-weight:600;\">" +
         escapeHtml(title) +
         "</td></tr>\n<tr><td style=\"padding:0 24px;\"><table "
         "role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\">\n";
    if (items.empty()) {
      h += "<tr><td style=\"padding:4px 0;font-size:13px;color:#6b7280;\">None in this "
           "period</td></tr>\n";
    }
    for (const auto& item : items) {
      h += "<tr><td style=\"padding:4px 0;font-size:13px;color:#111827;word-break:break-all;\">" +
           escapeHtml(trimmed(item.label, 80)) +
           "</td><td align=\"right\" style=\"padding:4px 0;font-size:13px;white-space:nowrap;\">" +
           groupDigits(item.value) + " " + units(item.value) + "</td></tr>\n";
    }
    h += "</table></td></tr>\n";
  };
  list("Top pages", "view", r.pages);
  list("Top sources", "visitor", r.sources);
  if (!r.goals.empty()) {
    h += "<tr><td style=\"padding:16px 24px 4px 24px;font-size:15px;font-weight:600;\">Goal "
         "conversions</td></tr>\n<tr><td style=\"padding:0 24px;\"><table role=\"presentation\" "
         "width=\"100%\" cellpadding=\"0\" cellspacing=\"0\">\n";
    for (const auto& g : r.goals) {
      char rate[32];
      std::snprintf(rate, sizeof rate, "%.2f%%", g.conversionRate);
      h += "<tr><td style=\"padding:4px 0;font-size:13px;\">" + escapeHtml(g.name) +
           "</td><td align=\"right\" style=\"padding:4px 0;font-size:13px;white-space:nowrap;\">" +
           groupDigits(g.conversions) + " (" + rate + ")</td></tr>\n";
    }
    h += "</table></td></tr>\n";
  }
  const std::string link = dashboardLink(r, dashboardUrl);
  if (!link.empty()) {
    h += "<tr><td style=\"padding:20px 24px 0 24px;\"><a href=\"" + escapeHtml(link) +
         "\" style=\"display:inline-block;background:#4f46e5;color:#ffffff;text-decoration:none;"
         "padding:10px 16px;border-radius:6px;font-size:14px;\">Open the dashboard</a></td></tr>\n";
  }
  h += "<tr><td style=\"padding:20px 24px 24px 24px;font-size:12px;color:#6b7280;\">You receive "
       "this report because it is switched on in your MetricPulse account settings.</td></tr>\n";
  h += "</table>\n</td></tr></table>\n</body></html>\n";
  return h;
}

}  // namespace

WebsiteReport build(db::Connection& conn, const sites::Website& website,
                    const PeriodRange& period) {
  WebsiteReport r;
  r.website = website;
  r.period = period;
  r.current = totals(conn, website, period.range);
  r.previous = totals(conn, website, period.previous);
  r.pages = top(conn, website, period.range, "page", Metric::kPageviews);
  r.sources = top(conn, website, period.range, "source", Metric::kVisitors);
  const auto goals = goals::listGoals(conn, website.id);
  if (!goals.empty()) {
    stats::Scope scope;
    scope.websiteId = website.id;
    scope.timeZone = website.timeZone;
    scope.range = period.range;
    const auto answer = stats::goalsReport(conn, scope, goals);
    for (const auto& g : answer.at("goals")) {
      r.goals.push_back({g.at("name").get<std::string>(), g.at("visitors").get<std::int64_t>(),
                         g.at("conversionRate").get<double>()});
    }
  }
  return r;
}

Rendered render(const WebsiteReport& report, std::string_view dashboardUrl) {
  Rendered out;
  out.subject = report.website.domain + ": " + frequencyTitle(report.period.period) + " report, " +
                describe(report.period);
  out.text = renderText(report, dashboardUrl);
  out.html = renderHtml(report, dashboardUrl);
  return out;
}

std::string groupDigits(std::int64_t value) {
  std::string digits = std::to_string(std::llabs(value));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

std::string percentChange(std::int64_t now, std::int64_t before) {
  if (before == 0) return now == 0 ? "\u2013" : "new";
  const double change = 100.0 * static_cast<double>(now - before) / static_cast<double>(before);
  const auto rounded = static_cast<std::int64_t>(std::llround(change));
  if (rounded == 0) return "\u00b10%";
  return (rounded > 0 ? "+" : "\u2212") + std::to_string(std::llabs(rounded)) + "%";
}

std::string duration(std::int64_t seconds) {
  char buf[32];
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(seconds));
  } else if (seconds < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm %02llds", static_cast<long long>(seconds / 60),
                  static_cast<long long>(seconds % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh %02lldm", static_cast<long long>(seconds / 3600),
                  static_cast<long long>((seconds % 3600) / 60));
  }
  return buf;
}

}  // namespace mp::reports
