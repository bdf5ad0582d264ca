// Named spdlog loggers per area and their set-up from configuration.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace mp::log {

/// Output format: human text with timestamps, or text without them (journald adds its own).
enum class Format { kText, kJournal };

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
