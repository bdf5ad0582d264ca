// Filters, compare and dimensions from request text: every rule checked before a query runs.
#include "stats/query_params.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "util/error.hpp"
#include "util/utf8.hpp"

namespace mp::stats {
namespace {

constexpr std::size_t kMaxFilters = 20;
constexpr std::size_t kMaxValues = 100;
constexpr std::size_t kMaxValueLength = 2048;

}  // namespace

std::vector<Filter> filtersFromJson(const nlohmann::json& filters, const char* field) {
  if (!filters.is_array()) {
    throw InvalidInput(field,
                       std::string(field) + " must be an array of [operator, dimension, [values]]");
  }
  if (filters.size() > kMaxFilters) {
    throw InvalidInput(field, fmt::format("at most {} filters are answered", kMaxFilters));
  }
  std::vector<Filter> out;
  for (const auto& f : filters) {
    if (!f.is_array() || f.size() != 3 || !f[0].is_string() || !f[1].is_string() ||
        !f[2].is_array()) {
      throw InvalidInput(field, fmt::format("each filter must be [operator, dimension, [values]], "
                                            "not {}",
                                            f.dump().substr(0, 80)));
    }
    Filter filter;
    const auto op = filterOpNamed(f[0].get<std::string>());
    if (!op) {
      throw InvalidInput(field, fmt::format("unknown filter operator \"{}\": use is, is_not, "
                                            "contains, contains_not, matches or matches_not",
                                            f[0].get<std::string>().substr(0, 40)));
    }
    filter.op = *op;
    const auto dim = dimensionNamed(f[1].get<std::string>());
    if (!dim) {
      throw InvalidInput(field, fmt::format("unknown dimension \"{}\" in a filter",
                                            f[1].get<std::string>().substr(0, 60)));
    }
    if (dim->kind == DimensionKind::kTime) {
      throw InvalidInput(field, "time dimensions cannot be filtered on; use the date range");
    }
    filter.dimension = *dim;
    if (f[2].empty() || f[2].size() > kMaxValues) {
      throw InvalidInput(field,
                         fmt::format("each of the filters takes 1 to {} values", kMaxValues));
    }
    for (const auto& v : f[2]) {
      if (!v.is_string()) throw InvalidInput(field, "filter values must be strings");
      const auto text = v.get<std::string>();
      if (util::utf8LengthUnlessNul(text) == util::kHoldsNul || text.size() > kMaxValueLength) {
        throw InvalidInput(field, fmt::format("filter values are text of at most {} bytes, "
                                              "without NUL",
                                              kMaxValueLength));
      }
      filter.values.push_back(text);
    }
    out.push_back(std::move(filter));
  }
  return out;
}

std::vector<Filter> parseFilters(const std::optional<std::string>& text) {
  if (!text || text->empty()) return {};
  const auto parsed = nlohmann::json::parse(*text, nullptr, false);
  if (parsed.is_discarded()) {
    throw InvalidInput("filters", "filters must be JSON: [[\"is\", \"page\", [\"/pricing\"]]]");
  }
  return filtersFromJson(parsed, "filters");
}

std::optional<Compare> parseCompare(const std::optional<std::string>& text) {
  if (!text || text->empty()) return std::nullopt;
  if (*text == "previous_period") return Compare::kPreviousPeriod;
  if (*text == "year_over_year") return Compare::kYearOverYear;
  throw InvalidInput("compare", fmt::format("compare must be previous_period or year_over_year, "
                                            "not \"{}\"",
                                            text->substr(0, 40)));
}

Dim parseBreakdownDimension(const std::optional<std::string>& text) {
  if (!text) throw InvalidInput("dimension", "dimension is required, e.g. page or source");
  const auto dim = dimensionNamed(*text);
  if (!dim || dim->kind == DimensionKind::kTime) {
    throw InvalidInput(
        "dimension",
        fmt::format("dimension must be one of page, entry_page, exit_page, source, channel, "
                    "referrer, utm_source, utm_medium, utm_campaign, utm_term, utm_content, "
                    "country, browser, os, device, hostname, eventType or prop:KEY, not \"{}\"",
                    text->substr(0, 40)));
  }
  return *dim;
}

std::string_view name(Compare compare) {
  return compare == Compare::kPreviousPeriod ? "previous_period" : "year_over_year";
}

}  // namespace mp::stats
