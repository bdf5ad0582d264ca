// mpctl export: a website's stats as a ZIP of CSV files in Plausible's export layout
// (core/export), written to a file as it is read.
#include "export/export.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "context.hpp"
#include "stats/stats.hpp"
#include "stats/v2.hpp"
#include "util/error.hpp"
#include "util/exit_codes.hpp"
#include "util/time.hpp"

namespace mp::cli {

void registerExportCommands(CLI::App& app, Context& ctx) {
  struct Options {
    std::string website;
    std::string from;
    std::string to;
    std::string output;
    bool raw = false;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "export",
      "Write a website's stats as a ZIP of CSV files (Plausible's export layout), per day");
  cmd->add_option("website", opts->website, "Website id or domain")->required();
  cmd->add_option("--from", opts->from,
                  "First day (YYYY-MM-DD, the website's zone; default: its first day with data)");
  cmd->add_option("--to", opts->to, "Last day (default: today)");
  cmd->add_flag("--raw", opts->raw, "Add every raw event of the range (events_*.csv)");
  cmd->add_option("-o,--output", opts->output,
                  "File to write (- for standard output; default: DOMAIN_YYYYMMDD.zip here)");
  cmd->callback([&ctx, opts] {
    ctx.action = [&ctx, opts] {
      const auto date = [](const std::string& text, const char* field) {
        const auto d = util::parseDate(text);
        if (!d) throw InvalidInput(field, std::string(field) + " \"" + text + "\" is not a date (YYYY-MM-DD)");
        return *d;
      };
      std::optional<std::chrono::sys_days> from, to;
      if (!opts->from.empty()) from = date(opts->from, "--from");
      if (!opts->to.empty()) to = date(opts->to, "--to");
      auto conn = ctx.connect();
      const auto site = resolveWebsite(conn, opts->website);
      const auto today = stats::todayIn(conn, site.timeZone, util::nowMillis());
      if (!to) to = today;
      if (!from) {
        from = stats::v2::startDay(conn, stats::v2::Site{site.id, site.domain, site.timeZone})
                   .value_or(*to);
        if (*from > *to) from = *to;
      }
      exporting::ExportOptions options;
      options.range = {*from, *to};
      options.raw = opts->raw;

      const std::string name =
          opts->output.empty() ? exporting::archiveName(site.domain, today) : opts->output;
      const bool toStdout = name == "-";
      if (toStdout && isatty(STDOUT_FILENO)) {
        throw InvalidInput("--output", "standard output is a terminal: give a file name");
      }
      // Written under a temporary name and renamed when complete: never a half archive.
      const std::string partial = name + ".part";
      std::ofstream file;
      if (!toStdout) {
        file.open(partial, std::ios::binary | std::ios::trunc);
        if (!file) throw Error("cannot write " + partial + ": " + std::strerror(errno));
      }
      std::ostream& out = toStdout ? std::cout : file;
      const auto started = std::chrono::steady_clock::now();
      exporting::ZipWriter zip(
          [&out, &partial, toStdout](std::string_view bytes) {
            out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
            if (!out) {
              throw Error("cannot write " + (toStdout ? std::string("standard output") : partial) +
                          ": " + std::strerror(errno));
            }
          },
          util::nowMillis());
      exporting::ExportSummary summary;
      try {
        summary = exporting::writeExport(conn, site, options, zip);
        out.flush();
        if (!toStdout) {
          file.close();
          if (!file) throw Error("cannot write " + partial + ": " + std::strerror(errno));
          std::filesystem::rename(partial, name);
        }
      } catch (...) {
        if (!toStdout) {
          file.close();
          std::error_code ignored;
          std::filesystem::remove(partial, ignored);
        }
        throw;
      }
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      char line[256];
      std::snprintf(
          line, sizeof line, "%zu files, %lld rows%s, %.1f MB in %.1f s", summary.files.size(),
          static_cast<long long>(summary.rows),
          opts->raw ? (", " + std::to_string(summary.rawEvents) + " raw events").c_str() : "",
          static_cast<double>(zip.written()) / 1e6, secs);
      (toStdout ? std::cerr : std::cout)
          << "exported " << site.domain << " " << util::formatDate(*from) << " to "
          << util::formatDate(*to) << " into " << (toStdout ? "standard output" : name) << ": "
          << line << "\n";
      return exit_code::kOk;
    };
  });
}

}  // namespace mp::cli
