// History from other analytics tools into a website (mpctl import): Plausible's CSV export
// (daily aggregates, into imported_daily), Umami's and GoatCounter's CSV exports (events, into
// the events table). Every row is checked before anything is written, a day is imported once and
// never where MetricPulse tracked events itself, and the same file imported again changes
// nothing (0017_imports.sql; docs/operations.md "Importing history").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/connection.hpp"
#include "importing/files.hpp"
#include "sites/sites.hpp"
#include "util/error.hpp"

namespace mp::importing {

enum class Format { kPlausibleCsv, kUmamiCsv, kGoatCounterCsv };

/// "plausible-csv", "umami-csv", "goatcounter-csv".
std::string_view name(Format format);
/// The format of a name; nullopt for any other.
std::optional<Format> formatNamed(std::string_view name);

/// A bad row or file: where, and what is wrong with it.
struct Problem {
  std::string file;
  std::int64_t line = 0;  ///< 0: the file as a whole
  std::string message;
};

/// The input holds bad rows or files: nothing was imported.
class InvalidData : public Error {
 public:
  InvalidData(std::vector<Problem> problems, std::int64_t total);
  /// The first problems found (at most kMaxProblems), in file and line order.
  const std::vector<Problem>& problems() const { return problems_; }
  /// How many there are in all.
  std::int64_t total() const { return total_; }

 private:
  std::vector<Problem> problems_;
  std::int64_t total_;
};

/// The most problems an InvalidData lists.
inline constexpr std::size_t kMaxProblems = 50;

/// Progress of a run: the phase ("checking", "importing"), and bytes or rows done of a total.
using ProgressFn =
    std::function<void(std::string_view phase, std::uint64_t done, std::uint64_t total)>;

struct ImportOptions {
  Format format = Format::kPlausibleCsv;
  /// Today in the website's zone: this day and later ones are not imported (still tracked).
  std::chrono::sys_days today{};
  ProgressFn progress;
  /// Event-level imports: rows staged per transaction (a resumed run starts after the last one).
  std::int64_t batchRows = 20000;
};

/// What an import did (or, for a file imported before, what it did then).
struct ImportSummary {
  /// Empty when no day could be kept: such an import is not recorded (nothing changed).
  std::string importId;
  bool alreadyImported = false;  ///< the same input was imported before: nothing changed
  bool resumed = false;          ///< an interrupted import of the same input was finished
  std::int64_t rowsRead = 0;
  std::int64_t rowsImported = 0;
  std::int64_t rowsSkipped = 0;
  std::map<std::string, std::int64_t> skipped;  ///< why rows were skipped → how many
  std::int64_t days = 0;                        ///< days imported
  std::optional<std::chrono::sys_days> firstDay, lastDay;
  std::vector<std::string> ignoredFiles;  ///< files of the input that are not of the format
};

/// The key of the PostgreSQL session advisory lock an import or an import's deletion holds on
/// its website for the whole run, so that two never judge and take the same days at once.
std::int64_t importLockKey(const std::string& websiteId);

/// Imports `input` into `website`. `conn` must not be in a transaction. Throws InvalidData (bad
/// rows; nothing written), InvalidInput (an input that is not of the format), Conflict
/// (`import_running`: another import or deletion of the website's imports is running; nothing
/// written), DbError.
ImportSummary runImport(db::Connection& conn, const sites::Website& website, InputFiles& input,
                        const ImportOptions& options);

/// One import of a website, as listed.
struct ImportRecord {
  std::string id;
  std::string source;
  std::string fileName;
  std::string status;  ///< staging or complete
  std::optional<std::string> firstDay, lastDay;
  std::int64_t rowsRead = 0, rowsImported = 0, rowsSkipped = 0, days = 0;
  std::string createdAt;
};

/// The imports of a website, oldest first. Throws DbError.
std::vector<ImportRecord> listImports(db::Connection& conn, const std::string& websiteId);

/// Deletes an import and what it brought in (its aggregates, or the events of its days, which are
/// folded again); returns the days it held. Throws NotFound (no such import of the website),
/// Conflict (`import_running`, as runImport), DbError.
std::int64_t deleteImport(db::Connection& conn, const sites::Website& website,
                          const std::string& importId);

}  // namespace mp::importing
