// Salt rows: random bytes from OpenSSL, hex in SQL, and a per-day cache so events never query.
#include "events/salts.hpp"

#include <openssl/rand.h>

#include <array>
#include <cstdio>
#include <utility>

#include "util/error.hpp"

namespace mp::events {
namespace {

constexpr std::size_t kSaltBytes = 32;
constexpr std::chrono::seconds kRetryAfterFailure(1);

// 'YYYY-MM-DD', the text form of a PostgreSQL date.
std::string dayText(std::chrono::sys_days day) {
  const std::chrono::year_month_day ymd(day);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::string toHex(const unsigned char* data, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 0xf]);
  }
  return out;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// encode(salt, 'hex') is lowercase; bytea's own text output would depend on bytea_output.
std::string fromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) throw DbError("salts: salt is not hex");
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hexValue(hex[i]);
    const int lo = hexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) throw DbError("salts: salt is not hex");
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

std::string newSaltHex() {
  std::array<unsigned char, kSaltBytes> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    throw Error("salts: the OpenSSL random generator failed");
  }
  return toHex(salt.data(), salt.size());
}

}  // namespace

SaltStore::SaltStore(db::Pool& pool, Clock clock)
    : pool_(pool),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::system_clock::now(); })) {}

std::chrono::sys_days SaltStore::today() const {
  // system_clock counts Unix time, so whole days of it are UTC days.
  return std::chrono::floor<std::chrono::days>(clock_());
}

SaltStore::Salts SaltStore::current() {
  const auto day = today();
  std::shared_ptr<const Cached> cached;
  {
    std::lock_guard lock(cacheMutex_);
    cached = cached_;
  }
  if (cached && cached->day == day) return cached->salts;

  std::lock_guard refresh(refreshMutex_);
  {
    // Another thread may have loaded the day while this one waited.
    std::lock_guard lock(cacheMutex_);
    if (cached_ && cached_->day == day) return cached_->salts;
  }
  // After midnight with PostgreSQL out of reach, every event would otherwise queue here for its
  // own connection attempt; for a moment after a failure they get the same error at once.
  const auto now = std::chrono::steady_clock::now();
  if (failedAt_ && now - *failedAt_ < kRetryAfterFailure) throw DbError(failure_, failureSqlstate_);
  std::shared_ptr<const Cached> loaded;
  try {
    loaded = load(day);
  } catch (const DbError& e) {
    failedAt_ = now;
    failure_ = e.what();
    failureSqlstate_ = e.sqlstate();
    throw;
  }
  failedAt_.reset();
  {
    std::lock_guard lock(cacheMutex_);
    cached_ = loaded;
  }
  return loaded->salts;
}

std::shared_ptr<const SaltStore::Cached> SaltStore::load(std::chrono::sys_days day) {
  const std::string todayText = dayText(day);
  const std::string yesterdayText = dayText(day - std::chrono::days(1));
  auto conn = pool_.acquire();
  // Every daemon may race to create the day's salt; the primary key picks one winner and the
  // SELECT (a new snapshot, after the INSERT has waited for any competitor) reads it.
  conn->execArgs(
      "INSERT INTO salts (day, salt) VALUES ($1::date, decode($2, 'hex')) "
      "ON CONFLICT (day) DO NOTHING",
      todayText, newSaltHex());
  auto rows = conn->execArgs(
      "SELECT day::text, encode(salt, 'hex') FROM salts WHERE day IN ($1::date, $2::date)",
      todayText, yesterdayText);

  auto cached = std::make_shared<Cached>();
  cached->day = day;
  for (int r = 0; r < rows.rows(); ++r) {
    const auto rowDay = rows.get(r, 0);
    (rowDay == todayText ? cached->salts.today : cached->salts.yesterday) = fromHex(rows.get(r, 1));
  }
  if (cached->salts.today.empty()) {
    throw DbError("salts: no salt for " + todayText + " after creating it");
  }
  return cached;
}

int SaltStore::prune() {
  const std::string yesterdayText = dayText(today() - std::chrono::days(1));
  auto conn = pool_.acquire();
  auto result = conn->execArgs("DELETE FROM salts WHERE day < $1::date", yesterdayText);
  return static_cast<int>(result.affected());
}

}  // namespace mp::events
