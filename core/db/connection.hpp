// RAII over libpq: one PostgreSQL connection, the results of its statements, and transactions.
#pragma once

#include <charconv>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "db/sqlstate.hpp"
#include "util/error.hpp"

// libpq's handle types, declared here so that users of mp_core never need libpq-fe.h (mp_core
// links libpq privately).
struct pg_conn;
struct pg_result;

namespace mp::db {

/// One statement parameter in text format; std::nullopt is SQL NULL.
using Param = std::optional<std::string>;
/// The parameters $1, $2, … of one statement.
using Params = std::vector<Param>;

/// `url` with its password (URL or key=value form) replaced by "***", fit for logs and messages.
std::string redactUrl(std::string_view url);

namespace detail {
template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <typename>
inline constexpr bool kAlwaysFalse = false;
}  // namespace detail

/// The text form of a C++ value as a statement parameter: strings as they are, integers and
/// floating point in decimal, bool as true/false, an empty std::optional or std::nullopt as NULL.
template <typename T>
Param toParam(const T& value) {
  if constexpr (std::is_same_v<T, std::nullopt_t> || std::is_same_v<T, std::nullptr_t>) {
    return std::nullopt;
  } else if constexpr (detail::IsOptional<T>::value) {
    if (!value) return std::nullopt;
    return toParam(*value);
  } else if constexpr (std::is_same_v<T, bool>) {
    return std::string(value ? "true" : "false");
  } else if constexpr (std::is_integral_v<T>) {
    return std::to_string(value);
  } else if constexpr (std::is_floating_point_v<T>) {
    char buf[64];
    auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
    return std::string(buf, end);
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    return std::string(std::string_view(value));
  } else {
    static_assert(detail::kAlwaysFalse<T>, "no text form for this parameter type");
  }
}

/// The outcome of one statement; owns its PGresult. Rows and columns count from 0; indexes out
/// of range throw std::out_of_range.
class Result {
 public:
  Result() = default;
  /// Takes ownership of `res` (may be null: an empty result).
  explicit Result(pg_result* res) noexcept;

  /// Number of rows returned.
  int rows() const noexcept;
  /// Number of columns returned.
  int cols() const noexcept;
  /// Rows inserted, updated, deleted (or copied) by the statement; 0 for others.
  std::int64_t affected() const noexcept;
  /// The command tag, e.g. "INSERT 0 1" or "ROLLBACK".
  std::string_view commandTag() const noexcept;
  /// The index of the named column; throws std::out_of_range when there is none.
  int column(std::string_view name) const;

  /// True when the value is SQL NULL.
  bool isNull(int row, int col) const;
  /// The value as text ("" for NULL), valid while this Result lives.
  std::string_view get(int row, int col) const;
  /// The value as text, std::nullopt for NULL.
  std::optional<std::string> opt(int row, int col) const;
  /// The value as an integer; throws DbError when it is NULL or not an integer.
  std::int64_t getInt(int row, int col) const;
  /// The value of a boolean column; throws DbError when it is NULL or not t/f.
  bool getBool(int row, int col) const;

  /// The same accessors by column name.
  bool isNull(int row, std::string_view col) const { return isNull(row, column(col)); }
  std::string_view get(int row, std::string_view col) const { return get(row, column(col)); }
  std::optional<std::string> opt(int row, std::string_view col) const {
    return opt(row, column(col));
  }
  std::int64_t getInt(int row, std::string_view col) const { return getInt(row, column(col)); }
  bool getBool(int row, std::string_view col) const { return getBool(row, column(col)); }

  /// The libpq result, nullptr when empty; for core/db's own libpq calls.
  pg_result* native() const noexcept { return res_.get(); }

 private:
  void check(int row, int col) const;

  struct Clear {
    void operator()(pg_result* res) const noexcept;
  };
  std::unique_ptr<pg_result, Clear> res_;
};

/// One PostgreSQL session. Not thread-safe: one thread at a time (the Pool hands them out).
class Connection {
 public:
  /// Connects to `url` (a postgresql:// URL or key=value string) within `connectTimeout`
  /// (0 = wait forever); throws DbError (SQLSTATE 08001) with libpq's reason, never the password.
  Connection(const std::string& url, std::chrono::seconds connectTimeout);
  ~Connection();
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one statement with text parameters $1…; throws DbError carrying the SQLSTATE.
  Result exec(std::string_view sql, const Params& params = {});
  /// exec() with each argument converted by toParam(): execArgs("… $1, $2", id, 42).
  template <typename... Args>
  Result execArgs(std::string_view sql, const Args&... args) {
    return exec(sql, Params{toParam(args)...});
  }
  /// Runs a script of several statements without parameters (migrations); throws DbError whose
  /// message names the script line of the failure.
  void execScript(std::string_view sql);
  /// Runs a script of several statements without parameters in one round trip and returns the
  /// result of each, in order; throws DbError for the first that failed (PostgreSQL runs none
  /// after it).
  std::vector<Result> execAll(std::string_view sql);

  /// True when `SELECT 1` succeeds, reconnecting once (PQreset) when the connection broke.
  bool ping() noexcept;
  /// True when libpq considers the connection open (it learns of breakage only when used).
  bool healthy() const noexcept;
  /// healthy(), and the server has sent nothing unasked while idle (as it does before closing an
  /// idle session, e.g. pg_terminate_backend); costs no round trip.
  bool probe() noexcept;
  /// Reconnects with the original parameters; true when the new connection is open.
  bool reset() noexcept;
  /// True inside a transaction block (open or failed).
  bool inTransaction() const noexcept;
  /// Process id of the server backend (for pg_terminate_backend and logs).
  int backendPid() const noexcept;
  /// Server version as PostgreSQL encodes it, e.g. 150004 for 15.4.
  int serverVersion() const noexcept;
  /// The libpq handle, for libpq calls this class and CopyIn do not wrap (none in mp_core outside
  /// core/db).
  pg_conn* native() noexcept { return conn_.get(); }

 private:
  Result check(pg_result* res, std::string_view sql);
  [[noreturn]] void throwConnectionError(const std::string& what);

  struct Finish {
    void operator()(pg_conn* conn) const noexcept;
  };
  std::unique_ptr<pg_conn, Finish> conn_;
};

/// Transaction isolation levels (PostgreSQL's default is read committed).
enum class Isolation { kReadCommitted, kRepeatableRead, kSerializable };

/// How a Transaction begins.
struct TransactionOptions {
  /// A run-time setting for the transaction alone: SET LOCAL name = value.
  struct Setting {
    std::string name;   ///< e.g. "work_mem"
    std::string value;  ///< SQL text, spliced as it is: "'32MB'", "off"; never input
  };

  Isolation isolation = Isolation::kReadCommitted;
  /// READ ONLY: a statement that would write fails (SQLSTATE 25006).
  bool readOnly = false;
  /// Sent with BEGIN in one round trip.
  std::vector<Setting> settings;
};

/// A transaction block: BEGIN on construction, COMMIT by commit(), ROLLBACK on destruction when
/// not committed (the destructor never throws).
class Transaction {
 public:
  /// Sends BEGIN; throws DbError.
  explicit Transaction(Connection& conn, Isolation isolation = Isolation::kReadCommitted);
  /// Sends BEGIN with `options` (and their SET LOCAL statements in the same round trip); throws
  /// DbError, after ending the block when a setting failed.
  Transaction(Connection& conn, const TransactionOptions& options);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  /// Sends COMMIT; throws DbError (the transaction is then over, rolled back by the server).
  void commit();
  /// Runs `sql` (statements without parameters) and COMMIT in one round trip, and returns the
  /// results of the statements of `sql`. Throws DbError for the first statement that failed
  /// (nothing is kept: the destructor rolls back) or as commit() does.
  std::vector<Result> commitAfter(std::string_view sql);
  /// Sends ROLLBACK now; throws DbError.
  void rollback();
  /// The connection the transaction runs on.
  Connection& connection() noexcept { return conn_; }

 private:
  Connection& conn_;
  bool done_ = false;
};

}  // namespace mp::db
