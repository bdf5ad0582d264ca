// mpctl shared state: lazily loaded configuration and common options.
#include "context.hpp"

#include "util/error.hpp"

namespace mp::cli {

const config::Config& Context::config() {
  if (!config_) config_ = config::loadOrThrow(configPath);
  return *config_;
}

db::Connection Context::connect() {
  const auto& database = config().database;
  return db::Connection(database.url, database.connectTimeout);
}

void addFormatOption(CLI::App& cmd, Format& format) {
  static const std::map<std::string, Format> kFormats = {
      {"table", Format::kTable}, {"json", Format::kJson}, {"csv", Format::kCsv}};
  cmd.add_option("--format", format, "Output format: table, json or csv")
      ->transform(CLI::CheckedTransformer(kFormats, CLI::ignore_case))
      ->default_str("table");
}

}  // namespace mp::cli
