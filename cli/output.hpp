// Printing lists as an aligned table, JSON or CSV (mpctl --format).
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "context.hpp"

namespace mp::cli {

/// One column: the JSON key (camelCase) and the table/CSV header.
struct Column {
  std::string key;
  std::string header;
};

/// Prints rows (one JSON value per column: string, number or null) in `format` to `out`: a table
/// with a header line (null shown as "-"), a JSON array of objects keyed by Column::key, or CSV
/// (RFC 4180 quoting, "\n" line ends) whose header line is the keys.
void printRows(std::ostream& out, Format format, const std::vector<Column>& columns,
               const std::vector<std::vector<nlohmann::json>>& rows);

}  // namespace mp::cli
