// The parameters of the REST reports and mpctl stats that the engine's questions add to the date
// range: filters, compare and the breakdown dimension, checked with messages naming them.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "stats/query.hpp"

namespace mp::stats {

/// Filters as JSON text in Plausible's Stats API v2 shape, [[op, dimension, [value, …]], …]
/// (nullopt: none). Throws InvalidInput("filters") naming what is wrong: not JSON, an unknown
/// operator or dimension, a time dimension, no values, a value that is not a string.
std::vector<Filter> parseFilters(const std::optional<std::string>& text);

/// Filters from a parsed JSON array, as parseFilters(); `field` names them in errors.
std::vector<Filter> filtersFromJson(const nlohmann::json& filters, const char* field);

/// "previous_period" or "year_over_year" (nullopt: no comparison); throws
/// InvalidInput("compare") otherwise.
std::optional<Compare> parseCompare(const std::optional<std::string>& text);

/// The dimension of a breakdown: any but time (page, entry_page, source, prop:KEY, …); throws
/// InvalidInput("dimension") when missing or unknown.
Dim parseBreakdownDimension(const std::optional<std::string>& text);

/// The API name of a comparison ("previous_period").
std::string_view name(Compare compare);

}  // namespace mp::stats
