// Named spdlog loggers per area and their set-up from configuration.
#pragma once

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace mp::log {

/// Output format: human text with timestamps, or for journald: no timestamp (it adds its own)
/// and each line led by its syslog priority as sd-daemon(3) defines it ("<3>" error, "<4>"
/// warning, "<6>" info, "<7>" debug), so `journalctl -p` can filter on it.
enum class Format { kText, kJournal };

/// The line formatter of `format` (what every logger uses after init()).
std::unique_ptr<spdlog::formatter> makeFormatter(Format format);

/// Parses "trace|debug|info|warn|error|critical|off"; throws ConfigError otherwise.
spdlog::level::level_enum parseLevel(std::string_view name);
/// Parses "auto|text|journal"; "auto" picks journal under systemd, text otherwise.
Format parseFormat(std::string_view name);

/// Sets up the sink, format and level of every named logger; safe to call again (SIGHUP).
void init(std::string_view level, std::string_view format);
/// Changes the level of every logger.
void setLevel(spdlog::level::level_enum level);

/// Returns the logger of one area (http, ws, db, redis, ingest, agg, auth, main, cli), creating it.
std::shared_ptr<spdlog::logger> get(const std::string& area);

}  // namespace mp::log
