// What the importers of core/importing share (not for other callers): problem lists, CSV
// headers by name, COPY text escaping, and the judgement of days.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "importing/importer.hpp"

namespace mp::importing {
namespace detail {

/// A bad value in a row; caught per row and listed with its file and line.
class RowProblem : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Problems {
  std::vector<Problem> list;
  std::int64_t total = 0;
  void add(const std::string& file, std::int64_t line, std::string message);
};

/// A header's columns by lower-case, trimmed name.
struct HeaderIndex {
  explicit HeaderIndex(const std::vector<std::string>& header);
  std::optional<std::size_t> find(std::string_view column) const;
  std::unordered_map<std::string, std::size_t> columns;
};

/// `text` escaped for COPY's text format.
std::string copyText(std::string_view text);

/// A referrer's host as tracking stores it (events.referrer_host, breakdowns by referrer): from
/// a URL or a bare "host/path", in lower case, without user, port or a leading "www."; empty
/// when it is `siteDomain` or below it (internal navigation), if one is given.
std::string referrerHost(std::string_view value, std::string_view siteDomain = {});

struct DayVerdicts {
  std::set<std::chrono::sys_days> kept;
  std::map<std::chrono::sys_days, std::string> skipped;  ///< day → why
};

/// Which of `days` an import may fill: not a day another import holds (`ownImportId` may hold
/// its own), not a day with tracked events, not today or later.
DayVerdicts judgeDays(db::Connection& conn, const sites::Website& website,
                      const std::vector<std::chrono::sys_days>& days, std::chrono::sys_days today,
                      const std::optional<std::string>& ownImportId);

}  // namespace detail

/// The event-level formats (Umami, GoatCounter): staged in batches (resumable), then moved into
/// events and folded.
ImportSummary importEvents(db::Connection& conn, const sites::Website& website, InputFiles& input,
                           const ImportOptions& options, const std::string& digest,
                           const std::string& fileName, const std::optional<std::string>& resume);

/// Folds the days (YYYY-MM-DD, the website's zone) again after their events changed.
void refoldDays(db::Connection& conn, const sites::Website& website,
                const std::vector<std::string>& days, const ProgressFn& progress = {});

}  // namespace mp::importing
