// A website's stats out, in Plausible's export layout: a ZIP of CSV files, one per table
// (imported_visitors, _sources, _pages, _entry_pages, _exit_pages, _custom_events, _locations,
// _devices, _browsers, _operating_systems), a row per day and value, with the numbers of the
// stats engine; and, when asked, the raw events (COPY … TO STDOUT). Written as it is read:
// memory does not grow with the range or the number of events.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "db/connection.hpp"
#include "export/zip.hpp"
#include "sites/sites.hpp"
#include "stats/params.hpp"

namespace mp::exporting {

struct ExportOptions {
  stats::DateRange range;  ///< days of the website's time zone
  bool raw = false;        ///< add events_<from>_<to>.csv: every stored event of the range
};

/// What an export wrote.
struct ExportSummary {
  std::vector<std::string> files;
  std::int64_t rows = 0;       ///< CSV rows of the aggregate files
  std::int64_t rawEvents = 0;  ///< rows of the raw file
};

/// The longest range one export covers.
inline constexpr int kMaxExportDays = 3660;

/// Writes the export of `website` into `zip` and finishes it. `conn` must not be inside a
/// transaction. Throws InvalidInput (a reversed or too long range), DbError, or what the sink
/// throws.
ExportSummary writeExport(db::Connection& conn, const sites::Website& website,
                          const ExportOptions& options, ZipWriter& zip);

/// "example_com_20261205.zip": the archive's name, as Plausible names its exports.
std::string archiveName(const std::string& domain, std::chrono::sys_days createdOn);

/// `value` as one CSV field (RFC 4180): quoted when it holds a comma, a quote, a line break or
/// a leading or trailing space.
std::string csvField(std::string_view value);

}  // namespace mp::exporting
