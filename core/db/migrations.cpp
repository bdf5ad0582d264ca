// Migrator: compares embedded migrations with schema_migrations and applies the pending ones.
#include "db/migrations.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>

#include "log/log.hpp"

namespace mp::db {
namespace {

// The same definition 0001_initial.sql declares; the migrator creates the table itself because
// it must read it before any migration has run.
constexpr std::string_view kCreateSchemaMigrations = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
))sql";

constexpr std::string_view kAppliedAtUtc =
    R"(to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))";

// Held for the whole run, across the per-migration transactions, hence a session lock.
class AdvisoryLock {
 public:
  AdvisoryLock(Connection& conn, std::int64_t key) : conn_(conn), key_(key) {
    if (!conn_.execArgs("SELECT pg_try_advisory_lock($1::bigint)", key_).getBool(0, 0)) {
      log::get("db")->info("another session is migrating this database; waiting for it");
      conn_.execArgs("SELECT pg_advisory_lock($1::bigint)", key_);
    }
  }
  ~AdvisoryLock() {
    // If the connection broke, the server released the lock with the session.
    try {
      conn_.execArgs("SELECT pg_advisory_unlock($1::bigint)", key_);
    } catch (...) {
    }
  }
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

 private:
  Connection& conn_;
  std::int64_t key_;
};

std::string labels(const std::vector<MigrationState>& states) {
  std::string out;
  for (const auto& s : states) {
    if (!out.empty()) out += ", ";
    out += s.label();
  }
  return out;
}

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

}  // namespace

std::optional<MigrationId> parseMigrationFileName(std::string_view fileName) {
  constexpr std::string_view kSuffix = ".sql";
  if (fileName.size() <= kSuffix.size() ||
      fileName.substr(fileName.size() - kSuffix.size()) != kSuffix) {
    return std::nullopt;
  }
  const std::string_view stem = fileName.substr(0, fileName.size() - kSuffix.size());
  const std::size_t digits = stem.find_first_not_of("0123456789");
  // Nine digits always fit an int (PostgreSQL's integer version column).
  if (digits == 0 || digits == std::string_view::npos || digits > 9 || stem[digits] != '_') {
    return std::nullopt;
  }
  MigrationId id;
  std::from_chars(stem.data(), stem.data() + digits, id.version);
  id.name = std::string(stem.substr(digits + 1));
  if (id.version <= 0 || id.name.empty()) return std::nullopt;
  const bool nameOk = std::all_of(id.name.begin(), id.name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
  if (!nameOk) return std::nullopt;
  return id;
}

std::string migrationLabel(int version, std::string_view name) {
  return fmt::format("{:04}_{}", version, name);
}

std::string migrationChecksum(std::string_view sql) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(sql.data(), sql.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw Error("SHA-256 failed (OpenSSL)");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(std::size_t{2} * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0x0F]);
  }
  return hex;
}

std::string_view toString(MigrationStatus status) {
  switch (status) {
    case MigrationStatus::kApplied:
      return "applied";
    case MigrationStatus::kPending:
      return "pending";
    case MigrationStatus::kChanged:
      return "CHANGED";
    case MigrationStatus::kUnknown:
      return "unknown";
  }
  return "unknown";
}

MigrationStatus MigrationState::status() const {
  if (unknown) return MigrationStatus::kUnknown;
  if (checksumMismatch) return MigrationStatus::kChanged;
  return applied ? MigrationStatus::kApplied : MigrationStatus::kPending;
}

Migrator::Migrator(Connection& conn, const std::vector<MigrationSource>& sources) : conn_(conn) {
  for (const auto& source : sources) {
    auto id = parseMigrationFileName(source.name);
    if (!id) {
      throw MigrationError(std::string("migration file \"") + source.name +
                           "\" is not named NNNN_name.sql");
    }
    scripts_.push_back({std::move(*id), source.name, source.sql, migrationChecksum(source.sql)});
  }
  std::sort(scripts_.begin(), scripts_.end(),
            [](const Script& a, const Script& b) { return a.id.version < b.id.version; });
  for (std::size_t i = 1; i < scripts_.size(); ++i) {
    if (scripts_[i].id.version == scripts_[i - 1].id.version) {
      throw MigrationError("migration files " + scripts_[i - 1].fileName + " and " +
                           scripts_[i].fileName + " share version " +
                           std::to_string(scripts_[i].id.version));
    }
  }
}

std::vector<MigrationState> Migrator::status() {
  struct Recorded {
    std::string name;
    std::string checksum;
    std::string appliedAt;
  };
  std::map<int, Recorded> recorded;
  // Reading must not create anything: status and the daemon's check are read-only.
  if (conn_.exec("SELECT to_regclass('schema_migrations') IS NOT NULL").getBool(0, 0)) {
    auto rows = conn_.exec("SELECT version, name, checksum, " + std::string(kAppliedAtUtc) +
                           " FROM schema_migrations ORDER BY version");
    for (int r = 0; r < rows.rows(); ++r) {
      recorded[static_cast<int>(rows.getInt(r, 0))] = {
          std::string(rows.get(r, 1)), std::string(rows.get(r, 2)), std::string(rows.get(r, 3))};
    }
  }

  std::vector<MigrationState> states;
  for (const auto& script : scripts_) {
    MigrationState state;
    state.version = script.id.version;
    state.name = script.id.name;
    state.checksum = script.checksum;
    if (auto it = recorded.find(script.id.version); it != recorded.end()) {
      state.applied = true;
      state.appliedAt = it->second.appliedAt;
      state.appliedChecksum = it->second.checksum;
      state.checksumMismatch = it->second.checksum != script.checksum;
      recorded.erase(it);
    }
    states.push_back(std::move(state));
  }
  for (auto& [version, row] : recorded) {
    MigrationState state;
    state.version = version;
    state.name = row.name;
    state.applied = true;
    state.unknown = true;
    state.appliedAt = row.appliedAt;
    state.appliedChecksum = row.checksum;
    states.push_back(std::move(state));
  }
  std::sort(states.begin(), states.end(),
            [](const MigrationState& a, const MigrationState& b) { return a.version < b.version; });
  return states;
}

int Migrator::migrate(const std::function<void(const MigrationState&)>& onApplied) {
  if (conn_.serverVersion() < kMinServerVersion) {
    throw MigrationError("PostgreSQL 13 or newer is required; the server is version " +
                         std::to_string(conn_.serverVersion() / 10000));
  }
  AdvisoryLock lock(conn_, kMigrationLockKey);
  conn_.exec(kCreateSchemaMigrations);
  // Read only now, under the lock: a concurrent run may have applied everything meanwhile.
  const auto states = status();
  const SchemaCheck check = checkSchema(states);
  if (!check.mismatched.empty()) {
    std::string what;
    for (const auto& s : check.mismatched) {
      const auto& script = *std::find_if(scripts_.begin(), scripts_.end(), [&s](const Script& x) {
        return x.id.version == s.version;
      });
      if (!what.empty()) what += "; ";
      what += "migration " + s.label() + " (file " + script.fileName +
              ") differs from the one applied to the database (checksum " +
              s.checksum.substr(0, 12) + "…, recorded " + s.appliedChecksum.substr(0, 12) + "…)";
    }
    throw MigrationError(what +
                         "; applied migrations must never change: restore the original file and "
                         "put the change in a new migration");
  }
  if (!check.unknown.empty()) {
    throw MigrationError("the database has " +
                         plural(check.unknown.size(), "migration", "migrations") +
                         " this build does not know (" + labels(check.unknown) +
                         "): it was migrated by a newer MetricPulse; upgrade this installation");
  }

  int applied = 0;
  for (MigrationState state : check.pending) {
    const auto& script = *std::find_if(scripts_.begin(), scripts_.end(), [&state](const Script& x) {
      return x.id.version == state.version;
    });
    const std::string what = "migration " + state.label() + " (" + script.fileName + ")";
    Transaction tx(conn_);
    try {
      conn_.execScript(script.sql);
    } catch (const DbError& e) {
      throw DbError(what + " failed: " + e.what(), e.sqlstate());
    }
    if (!conn_.inTransaction()) {
      throw MigrationError(what +
                           " ended the transaction it runs in (COMMIT or ROLLBACK in the file); "
                           "migrations must not control transactions");
    }
    auto row = conn_.execArgs(
        "INSERT INTO schema_migrations (version, name, checksum) "
        "VALUES ($1, $2, $3) RETURNING " +
            std::string(kAppliedAtUtc),
        state.version, state.name, state.checksum);
    tx.commit();
    state.applied = true;
    state.appliedAt = std::string(row.get(0, 0));
    state.appliedChecksum = state.checksum;
    ++applied;
    log::get("db")->info("applied migration {}", state.label());
    if (onApplied) onApplied(state);
  }
  return applied;
}

SchemaCheck checkSchema(const std::vector<MigrationState>& states) {
  SchemaCheck check;
  for (const auto& s : states) {
    switch (s.status()) {
      case MigrationStatus::kApplied:
        ++check.applied;
        break;
      case MigrationStatus::kPending:
        check.pending.push_back(s);
        break;
      case MigrationStatus::kChanged:
        check.mismatched.push_back(s);
        break;
      case MigrationStatus::kUnknown:
        check.unknown.push_back(s);
        break;
    }
  }
  check.ok = check.pending.empty() && check.unknown.empty() && check.mismatched.empty();
  return check;
}

SchemaCheck checkSchema(Connection& conn) {
  return checkSchema(Migrator(conn).status());
}

std::string describe(const SchemaCheck& check) {
  if (check.ok) {
    return "database schema is up to date (" + plural(check.applied, "migration", "migrations") +
           " applied)";
  }
  std::string out = "database schema is not current: ";
  std::string sep;
  if (!check.pending.empty()) {
    out += plural(check.pending.size(), "migration is", "migrations are") + " pending (" +
           labels(check.pending) + "): run mpctl db migrate";
    sep = "; ";
  }
  if (!check.unknown.empty()) {
    out += sep + plural(check.unknown.size(), "applied migration is", "applied migrations are") +
           " unknown to this build (" + labels(check.unknown) +
           "), the database was migrated by a newer MetricPulse: upgrade MetricPulse, then run "
           "mpctl db migrate";
    sep = "; ";
  }
  if (!check.mismatched.empty()) {
    out += sep + plural(check.mismatched.size(), "migration has", "migrations have") +
           " changed since being applied (" + labels(check.mismatched) +
           "): restore the released migration files";
  }
  return out;
}

}  // namespace mp::db
