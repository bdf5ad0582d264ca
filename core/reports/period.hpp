// The periods of the email reports: yesterday, last week (Monday to Sunday), last month, each
// with the period before it for the comparison.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "stats/params.hpp"

namespace mp::reports {

enum class Period { kDay, kWeek, kMonth };

/// "day", "week", "month".
std::string_view periodName(Period period);
/// The period of a name ("day", "week", "month"); nullopt for anything else.
std::optional<Period> parsePeriod(std::string_view name);
/// The period a users.report_frequency asks for ("daily" → day, …); nullopt for "off".
std::optional<Period> periodOfFrequency(std::string_view frequency);
/// "daily", "weekly", "monthly".
std::string_view frequencyOf(Period period);

/// A report's days and the days it is compared with.
struct PeriodRange {
  Period period = Period::kWeek;
  stats::DateRange range;     ///< the last complete period before today
  stats::DateRange previous;  ///< the period before it (a month: the calendar month before)
};

/// The last complete period before `today`: yesterday, the Monday-to-Sunday week before the
/// current one, or the calendar month before the current one; each compared with the one before.
PeriodRange lastComplete(Period period, std::chrono::sys_days today);

/// "Mon 30 Nov 2026", "23–29 Nov 2026", "November 2026": the range as a report's title says it.
std::string describe(const PeriodRange& period);
/// The compared range, in the same words.
std::string describePrevious(const PeriodRange& period);

}  // namespace mp::reports
