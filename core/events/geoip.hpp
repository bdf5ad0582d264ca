// Country lookup of client addresses in a MaxMind DB (.mmdb) file through libmaxminddb.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

// libmaxminddb's handle, declared here so that users of mp_core never need maxminddb.h (mp_core
// links libmaxminddb privately).
struct MMDB_s;

namespace mp::events {

/// An open GeoLite2/GeoIP2/DB-IP Country or City database; lookups are thread-safe.
class GeoIp {
 public:
  /// Maps the file into memory; throws mp::ConfigError naming the file and libmaxminddb's reason.
  explicit GeoIp(const std::filesystem::path& mmdb);
  ~GeoIp();
  GeoIp(const GeoIp&) = delete;
  GeoIp& operator=(const GeoIp&) = delete;

  /// The ISO 3166-1 alpha-2 code (upper case) of `ip`, from country.iso_code or else
  /// registered_country.iso_code; "" when unknown, private, loopback or not a numeric address.
  std::string country(std::string_view ip) const;
  /// The database's type from its metadata, e.g. "GeoLite2-Country" (for the startup log).
  std::string databaseType() const;

 private:
  struct Close {
    void operator()(MMDB_s* db) const noexcept;
  };
  std::unique_ptr<MMDB_s, Close> db_;
};

}  // namespace mp::events
