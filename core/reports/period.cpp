// Calendar arithmetic with <chrono>'s civil dates; a week starts on Monday (ISO 8601).
#include "reports/period.hpp"

#include <array>

namespace mp::reports {

using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::year_month_day;

namespace {

constexpr std::array<std::string_view, 12> kMonths = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};
constexpr std::array<std::string_view, 7> kWeekdays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};

std::string shortMonth(std::chrono::month m) {
  return std::string(kMonths[static_cast<unsigned>(m) - 1].substr(0, 3));
}

std::string dayText(sys_days day) {
  const year_month_day d{day};
  return std::string(kWeekdays[std::chrono::weekday{day}.c_encoding()]) + " " +
         std::to_string(static_cast<unsigned>(d.day())) + " " + shortMonth(d.month()) + " " +
         std::to_string(static_cast<int>(d.year()));
}

std::string rangeText(Period period, const stats::DateRange& range) {
  const year_month_day from{range.from};
  const year_month_day to{range.to};
  switch (period) {
    case Period::kDay:
      return dayText(range.from);
    case Period::kMonth:
      return std::string(kMonths[static_cast<unsigned>(from.month()) - 1]) + " " +
             std::to_string(static_cast<int>(from.year()));
    case Period::kWeek:
      break;
  }
  const std::string toText = std::to_string(static_cast<unsigned>(to.day())) + " " +
                             shortMonth(to.month()) + " " +
                             std::to_string(static_cast<int>(to.year()));
  std::string fromText = std::to_string(static_cast<unsigned>(from.day()));
  if (from.month() != to.month() || from.year() != to.year()) {
    fromText += " " + shortMonth(from.month());
  }
  if (from.year() != to.year()) fromText += " " + std::to_string(static_cast<int>(from.year()));
  return fromText + "\u2013" + toText;
}

stats::DateRange monthOf(std::chrono::year_month ym) {
  const sys_days first{ym / std::chrono::day{1}};
  const sys_days last{ym / std::chrono::last};
  return {first, last};
}

}  // namespace

std::string_view periodName(Period period) {
  switch (period) {
    case Period::kDay:
      return "day";
    case Period::kWeek:
      return "week";
    case Period::kMonth:
      return "month";
  }
  return "week";
}

std::optional<Period> parsePeriod(std::string_view name) {
  if (name == "day") return Period::kDay;
  if (name == "week") return Period::kWeek;
  if (name == "month") return Period::kMonth;
  return std::nullopt;
}

std::optional<Period> periodOfFrequency(std::string_view frequency) {
  if (frequency == "daily") return Period::kDay;
  if (frequency == "weekly") return Period::kWeek;
  if (frequency == "monthly") return Period::kMonth;
  return std::nullopt;
}

std::string_view frequencyOf(Period period) {
  switch (period) {
    case Period::kDay:
      return "daily";
    case Period::kWeek:
      return "weekly";
    case Period::kMonth:
      return "monthly";
  }
  return "weekly";
}

PeriodRange lastComplete(Period period, sys_days today) {
  PeriodRange out;
  out.period = period;
  switch (period) {
    case Period::kDay:
      out.range = {today - days{1}, today - days{1}};
      out.previous = {today - days{2}, today - days{2}};
      break;
    case Period::kWeek: {
      // Days since Monday: ISO weekday 1 (Monday) … 7 (Sunday).
      const auto sinceMonday = days{std::chrono::weekday{today}.iso_encoding() - 1};
      const sys_days thisMonday = today - sinceMonday;
      out.range = {thisMonday - days{7}, thisMonday - days{1}};
      out.previous = {thisMonday - days{14}, thisMonday - days{8}};
      break;
    }
    case Period::kMonth: {
      const year_month_day d{today};
      const std::chrono::year_month current{d.year(), d.month()};
      out.range = monthOf(current - std::chrono::months{1});
      out.previous = monthOf(current - std::chrono::months{2});
      break;
    }
  }
  return out;
}

std::string describe(const PeriodRange& period) {
  return rangeText(period.period, period.range);
}

std::string describePrevious(const PeriodRange& period) {
  return rangeText(period.period, period.previous);
}

}  // namespace mp::reports
