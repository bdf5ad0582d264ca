// GeoIP lookups: addresses are parsed by privacy.cpp's strict parser, then looked up by sockaddr.
#include "events/geoip.hpp"

#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "events/privacy.hpp"
#include "util/error.hpp"

namespace mp::events {
namespace {

// The iso_code under `key` ("country" or "registered_country"), "" when absent or not a code.
std::string isoCode(MMDB_entry_s& entry, const char* key) {
  MMDB_entry_data_s data{};
  if (MMDB_get_value(&entry, &data, key, "iso_code", static_cast<const char*>(nullptr)) !=
          MMDB_SUCCESS ||
      !data.has_data || data.type != MMDB_DATA_TYPE_UTF8_STRING || data.data_size != 2) {
    return {};
  }
  std::string code(data.utf8_string, data.data_size);
  for (char& c : code) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c < 'A' || c > 'Z') return {};
  }
  return code;
}

}  // namespace

void GeoIp::Close::operator()(MMDB_s* db) const noexcept {
  MMDB_close(db);
  delete db;
}

GeoIp::GeoIp(const std::filesystem::path& mmdb) {
  // mmap of a directory fails with ENODEV, which would name the wrong problem.
  std::error_code ec;
  if (std::filesystem::is_directory(mmdb, ec)) {
    throw ConfigError("cannot open GeoIP database \"" + mmdb.string() + "\": it is a directory");
  }
  auto db = std::make_unique<MMDB_s>();
  const int status = MMDB_open(mmdb.c_str(), MMDB_MODE_MMAP, db.get());
  if (status != MMDB_SUCCESS) {
    const int err = errno;
    std::string reason = MMDB_strerror(status);
    // libmaxminddb's own text for a missing or unreadable file does not say why; errno does.
    if ((status == MMDB_FILE_OPEN_ERROR || status == MMDB_IO_ERROR) && err != 0) {
      reason += std::string(": ") + std::strerror(err);
    }
    throw ConfigError("cannot open GeoIP database \"" + mmdb.string() + "\": " + reason);
  }
  db_.reset(db.release());
}

GeoIp::~GeoIp() = default;

std::string GeoIp::country(std::string_view ip) const {
  // MMDB_lookup_string would go through getaddrinfo, which also takes "127.1" and "0x7f.0.0.1"
  // and costs more per event; the strict parser plus a sockaddr lookup avoids both.
  auto addr = parseIp(ip);
  if (!addr) return {};

  sockaddr_storage storage{};
  if (addr->v6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&storage);
    sa->sin6_family = AF_INET6;
    std::memcpy(&sa->sin6_addr, addr->bytes.data(), 16);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&storage);
    sa->sin_family = AF_INET;
    std::memcpy(&sa->sin_addr, addr->bytes.data(), 4);
  }
  int mmdbError = MMDB_SUCCESS;
  // An IPv6 address in an IPv4-only database comes back as an error: unknown, not a failure.
  MMDB_lookup_result_s result =
      MMDB_lookup_sockaddr(db_.get(), reinterpret_cast<const sockaddr*>(&storage), &mmdbError);
  if (mmdbError != MMDB_SUCCESS || !result.found_entry) return {};

  std::string code = isoCode(result.entry, "country");
  // Anycast and some satellite ranges have only the registrant's country.
  if (code.empty()) code = isoCode(result.entry, "registered_country");
  return code;
}

std::string GeoIp::databaseType() const {
  return db_->metadata.database_type != nullptr ? db_->metadata.database_type : "";
}

}  // namespace mp::events
