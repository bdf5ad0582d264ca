// mpctl import: history from Plausible, Umami or GoatCounter CSV exports (core/importing), and
// the imports of a website listed or undone.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "context.hpp"
#include "importing/importer.hpp"
#include "output.hpp"
#include "sites/announce.hpp"
#include "stats/stats.hpp"
#include "util/error.hpp"
#include "util/exit_codes.hpp"
#include "util/time.hpp"

namespace mp::cli {
namespace {

using json = nlohmann::json;

// A progress bar on stderr when it is a terminal, redrawn at most ten times a second.
class ProgressBar {
 public:
  ProgressBar() : tty_(isatty(STDERR_FILENO) == 1) {}
  ~ProgressBar() { done(); }

  void operator()(std::string_view phase, std::uint64_t done, std::uint64_t total) {
    if (!tty_) return;
    const auto now = std::chrono::steady_clock::now();
    if (phase == phase_ && done < total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    phase_ = std::string(phase);
    const double share = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
    const int width = 30;
    const int filled = static_cast<int>(share * width);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.append(static_cast<std::size_t>(width - filled), '.');
    std::fprintf(stderr, "\r%-10s [%s] %3d%%", phase_.c_str(), bar.c_str(),
                 static_cast<int>(share * 100));
    std::fflush(stderr);
    drawn_ = true;
  }

  void done() {
    if (drawn_) std::fprintf(stderr, "\r%60s\r", "");
    drawn_ = false;
  }

 private:
  bool tty_;
  bool drawn_ = false;
  std::string phase_;
  std::chrono::steady_clock::time_point last_{};
};

std::string day(const std::optional<std::chrono::sys_days>& d) {
  return d ? util::formatDate(*d) : std::string("-");
}

void printSummary(const sites::Website& site, const importing::ImportSummary& s,
                  const std::string& format, const std::string& path) {
  if (s.alreadyImported) {
    std::cout << "already imported: " << path << " is import " << s.importId << " of "
              << site.domain << "; nothing changed\n";
  } else if (s.importId.empty()) {
    std::cout << "nothing imported into " << site.domain << " from " << format << " " << path
              << ": no day of it could be kept\n";
  } else {
    std::cout << "imported " << site.domain << " from " << format << " " << path
              << (s.resumed ? " (resumed)" : "") << "\n";
  }
  std::cout << "  import:   "
            << (s.importId.empty() ? "none (not recorded: import it again once its days are free)"
                                   : s.importId)
            << "\n"
            << "  days:     " << s.days;
  if (s.firstDay) std::cout << " (" << day(s.firstDay) << " to " << day(s.lastDay) << ")";
  std::cout << "\n  rows:     " << s.rowsRead << " read, " << s.rowsImported << " imported, "
            << s.rowsSkipped << " skipped\n";
  for (const auto& [reason, n] : s.skipped) {
    std::cout << "  skipped:  " << n << " row" << (n == 1 ? "" : "s") << ": " << reason << "\n";
  }
  for (const auto& f : s.ignoredFiles) {
    std::cout << "  ignored:  " << f << " (not a file of " << format << ")\n";
  }
  if (s.alreadyImported && s.rowsSkipped > 0) {
    // Its skipped days are not judged again: a day freed since (another import deleted) stays
    // out until this import is deleted and run again.
    std::cout << "  again:    its skipped rows stay skipped; to judge their days again: mpctl "
                 "import delete "
              << site.domain << " " << s.importId << ", then import it again\n";
  }
}

}  // namespace

void registerImportCommands(CLI::App& app, Context& ctx) {
  struct Options {
    std::string website;
    std::string path;
    std::string format;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "import",
      "Import history from a Plausible, Umami or GoatCounter CSV export (list, delete: imports)");
  cmd->add_option("website", opts->website, "Website id or domain");
  cmd->add_option("input", opts->path, "The export: a ZIP archive, a directory or a CSV file");
  cmd->add_option("--from", opts->format,
                  "Its format: plausible-csv, umami-csv or goatcounter-csv");
  cmd->require_subcommand(0, 1);
  cmd->callback([&ctx, opts, cmd] {
    if (!cmd->get_subcommands().empty()) return;
    ctx.action = [&ctx, opts] {
      if (opts->website.empty() || opts->path.empty()) {
        throw InvalidInput("input",
                           "give a website and the export: mpctl import WEBSITE --from "
                           "FORMAT FILE|DIR");
      }
      if (opts->format.empty()) {
        throw InvalidInput("--from",
                           "--from is required: plausible-csv, umami-csv or goatcounter-csv");
      }
      const auto format = importing::formatNamed(opts->format);
      if (!format) {
        throw InvalidInput("--from", "--from \"" + opts->format +
                                         "\" is not a format: plausible-csv, umami-csv or "
                                         "goatcounter-csv");
      }
      auto conn = ctx.connect();
      const auto site = resolveWebsite(conn, opts->website);
      importing::InputFiles input(opts->path);
      ProgressBar bar;
      importing::ImportOptions options;
      options.format = *format;
      options.today = stats::todayIn(conn, site.timeZone, util::nowMillis());
      options.progress = [&bar](std::string_view phase, std::uint64_t done, std::uint64_t total) {
        bar(phase, done, total);
      };
      importing::ImportSummary summary;
      try {
        summary = importing::runImport(conn, site, input, options);
      } catch (const importing::InvalidData& e) {
        bar.done();
        for (const auto& p : e.problems()) {
          std::cerr << p.file;
          if (p.line > 0) std::cerr << ":" << p.line;
          std::cerr << ": " << p.message << "\n";
        }
        if (e.total() > static_cast<std::int64_t>(e.problems().size())) {
          std::cerr << "… and " << e.total() - static_cast<std::int64_t>(e.problems().size())
                    << " more\n";
        }
        std::cerr << "mpctl: " << e.what() << "\n";
        return exit_code::kDataError;
      }
      bar.done();
      printSummary(site, summary, opts->format, opts->path);
      if (!summary.alreadyImported && summary.days > 0) {
        // Cached answers of the website's stats predate the import.
        try {
          auto redis = ctx.redis();
          if (!sites::announceWebsiteChanged(redis, site.id)) warnNotAnnounced();
        } catch (const Error&) {
          warnNotAnnounced();
        }
      }
      return exit_code::kOk;
    };
  });

  struct ListOptions {
    std::string website;
    Format format = Format::kTable;
  };
  auto list = std::make_shared<ListOptions>();
  auto* listCmd = cmd->add_subcommand("list", "List a website's imports");
  listCmd->add_option("website", list->website, "Website id or domain")->required();
  addFormatOption(*listCmd, list->format);
  listCmd->callback([&ctx, list] {
    ctx.action = [&ctx, list] {
      auto conn = ctx.connect();
      const auto site = resolveWebsite(conn, list->website);
      std::vector<std::vector<json>> rows;
      for (const auto& i : importing::listImports(conn, site.id)) {
        rows.push_back({i.id, i.source, i.status, i.firstDay ? json(*i.firstDay) : json(nullptr),
                        i.lastDay ? json(*i.lastDay) : json(nullptr), i.days, i.rowsImported,
                        i.rowsSkipped, i.fileName, i.createdAt});
      }
      printRows(std::cout, list->format,
                {{"id", "ID"},
                 {"source", "SOURCE"},
                 {"status", "STATUS"},
                 {"firstDay", "FIRST DAY"},
                 {"lastDay", "LAST DAY"},
                 {"days", "DAYS"},
                 {"rowsImported", "ROWS"},
                 {"rowsSkipped", "SKIPPED"},
                 {"file", "FILE"},
                 {"createdAt", "CREATED"}},
                rows);
      return exit_code::kOk;
    };
  });

  struct DelOptions {
    std::string website;
    std::string id;
  };
  auto del = std::make_shared<DelOptions>();
  auto* delCmd = cmd->add_subcommand("delete", "Delete an import and everything it brought in");
  delCmd->add_option("website", del->website, "Website id or domain")->required();
  delCmd->add_option("id", del->id, "Import id (mpctl import list)")->required();
  delCmd->callback([&ctx, del] {
    ctx.action = [&ctx, del] {
      auto conn = ctx.connect();
      const auto site = resolveWebsite(conn, del->website);
      const auto days = importing::deleteImport(conn, site, del->id);
      std::cout << "deleted import " << del->id << " of " << site.domain << " (" << days << " day"
                << (days == 1 ? "" : "s") << ")\n";
      try {
        auto redis = ctx.redis();
        if (!sites::announceWebsiteChanged(redis, site.id)) warnNotAnnounced();
      } catch (const Error&) {
        warnNotAnnounced();
      }
      return exit_code::kOk;
    };
  });
}

}  // namespace mp::cli
