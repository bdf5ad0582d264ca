// mpctl shared state: lazily loaded configuration and common options.
#include "context.hpp"

#include <iostream>

#include "redis/sentinel.hpp"
#include "sites/sites.hpp"
#include "util/error.hpp"
#include "util/uuid.hpp"

namespace mp::cli {

const config::Config& Context::config() {
  if (!config_) config_ = config::loadOrThrow(configPath);
  return *config_;
}

db::Connection Context::connect() {
  const auto& database = config().database;
  return db::Connection(database.url, database.connectTimeout);
}

redis::Client Context::redis() {
  const auto& cfg = config().redis;
  return redis::Client(redis::configuredUrl(cfg), cfg.timeout);
}

sites::Website resolveWebsite(db::Connection& conn, const std::string& website) {
  auto site =
      util::isUuid(website) ? sites::findById(conn, website) : sites::findByDomain(conn, website);
  if (!site) throw NotFound("no website with id or domain " + website);
  return *std::move(site);
}

void warnNotAnnounced() {
  std::cerr << "mpctl: warning: Redis is out of reach; running daemons notice the change within "
               "a minute\n";
}

void addFormatOption(CLI::App& cmd, Format& format) {
  static const std::map<std::string, Format> kFormats = {
      {"table", Format::kTable}, {"json", Format::kJson}, {"csv", Format::kCsv}};
  cmd.add_option("--format", format, "Output format: table, json or csv")
      ->transform(CLI::CheckedTransformer(kFormats, CLI::ignore_case))
      ->default_str("table");
}

}  // namespace mp::cli
