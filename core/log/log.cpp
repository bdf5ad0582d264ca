// Logger set-up: one stderr sink shared by all named loggers.
#include "log/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <array>
#include <cstdlib>
#include <mutex>

#include "util/error.hpp"

namespace mp::log {
namespace {

std::mutex gMutex;
std::shared_ptr<spdlog::sinks::sink> gSink;
spdlog::level::level_enum gLevel = spdlog::level::info;
Format gFormat = Format::kText;

constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v";
// '*' is the syslog priority flag below; journald strips "<N>" and files the line under N.
constexpr const char* kJournalPattern = "%*[%n] %v";

// The sd-daemon(3) prefix of a level: "<N>" with N the syslog priority.
class PriorityFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*tm*/,
              spdlog::memory_buf_t& dest) override {
    const char* prefix = "<6>";
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug:
        prefix = "<7>";  // LOG_DEBUG
        break;
      case spdlog::level::info:
        prefix = "<6>";  // LOG_INFO
        break;
      case spdlog::level::warn:
        prefix = "<4>";  // LOG_WARNING
        break;
      case spdlog::level::err:
        prefix = "<3>";  // LOG_ERR
        break;
      case spdlog::level::critical:
        prefix = "<2>";  // LOG_CRIT
        break;
      default:
        break;
    }
    dest.append(std::string_view(prefix));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PriorityFlag>();
  }
};

constexpr std::array<const char*, 9> kAreas = {"main",   "http", "ws",   "db", "redis",
                                               "ingest", "agg",  "auth", "cli"};

std::shared_ptr<spdlog::sinks::sink> sink() {
  if (!gSink) gSink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  return gSink;
}

std::shared_ptr<spdlog::logger> makeLogger(const std::string& area) {
  auto logger = std::make_shared<spdlog::logger>(area, sink());
  logger->set_level(gLevel);
  logger->set_formatter(makeFormatter(gFormat));
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace

std::unique_ptr<spdlog::formatter> makeFormatter(Format format) {
  if (format == Format::kText) return std::make_unique<spdlog::pattern_formatter>(kTextPattern);
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<PriorityFlag>('*').set_pattern(kJournalPattern);
  return formatter;
}

spdlog::level::level_enum parseLevel(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, spdlog::level::level_enum>, 7> kLevels{{
      {"trace", spdlog::level::trace},
      {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},
      {"critical", spdlog::level::critical},
      {"off", spdlog::level::off},
  }};
  for (const auto& [key, level] : kLevels) {
    if (key == name) return level;
  }
  throw ConfigError("unknown log level '" + std::string(name) +
                    "' (allowed: trace, debug, info, warn, error, critical, off)");
}

Format parseFormat(std::string_view name) {
  if (name == "text") return Format::kText;
  if (name == "journal") return Format::kJournal;
  if (name == "auto") {
    // systemd sets JOURNAL_STREAM when stderr is connected to the journal.
    return std::getenv("JOURNAL_STREAM") != nullptr ? Format::kJournal : Format::kText;
  }
  throw ConfigError("unknown log format '" + std::string(name) +
                    "' (allowed: auto, text, journal)");
}

void init(std::string_view level, std::string_view format) {
  const auto lvl = parseLevel(level);
  const auto fmt = parseFormat(format);
  std::lock_guard lock(gMutex);
  gLevel = lvl;
  gFormat = fmt;
  for (const char* area : kAreas) {
    auto logger = spdlog::get(area);
    if (!logger) logger = makeLogger(area);
    logger->set_level(gLevel);
    logger->set_formatter(makeFormatter(gFormat));
  }
}

void setLevel(spdlog::level::level_enum level) {
  std::lock_guard lock(gMutex);
  gLevel = level;
  spdlog::apply_all([level](const std::shared_ptr<spdlog::logger>& l) { l->set_level(level); });
}

std::shared_ptr<spdlog::logger> get(const std::string& area) {
  if (auto logger = spdlog::get(area)) return logger;
  std::lock_guard lock(gMutex);
  if (auto logger = spdlog::get(area)) return logger;
  return makeLogger(area);
}

}  // namespace mp::log
