// COPY … FROM STDIN: rows streamed to PostgreSQL in COPY's own format, the fastest way to load
// them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "db/connection.hpp"

namespace mp::db {

/// One COPY … FROM STDIN on a connection: started by the constructor, fed by put(), finished by
/// end(). The caller writes the data in the format the statement names (text format by default:
/// tab-separated, escaped, one line per row). Errors are DbError with PostgreSQL's SQLSTATE (08006
/// when the connection is gone and the server could not say); their message is the server's, its
/// detail and its context, which for a refused row names the line and column.
class CopyIn {
 public:
  /// Sends `sql` as one simple query, whose last statement is COPY … FROM STDIN (statements before
  /// it, e.g. creating the table, run first in the same round trip), and waits until the server
  /// takes data. Throws DbError when a statement fails or the last is no COPY … FROM STDIN (then
  /// 0A000); the connection is out of COPY mode then.
  CopyIn(Connection& conn, std::string_view sql);
  /// Abandons a COPY that end() did not finish: the server discards its rows and fails the
  /// statement (and so an enclosing transaction, which the caller rolls back). Never throws.
  ~CopyIn();
  CopyIn(const CopyIn&) = delete;
  CopyIn& operator=(const CopyIn&) = delete;

  /// Sends `data`: whole rows or any part of them (rows may span calls). libpq buffers it and
  /// sends it as the buffer fills. Throws DbError when the connection fails.
  void put(std::string_view data);
  /// Ends the data and waits for the outcome: the COPY's result, whose affected() is the number of
  /// rows copied. Throws DbError when PostgreSQL refused the data (or any of it: COPY stores all
  /// rows or none) or the connection failed; the connection is out of COPY mode either way.
  Result end();

 private:
  Connection& conn_;
  bool open_ = false;
};

/// Runs `sql`, one COPY … TO STDOUT, and hands each piece of its output to `sink` as the server
/// sends it (a row at a time, never the whole output in memory); returns the rows copied. Throws
/// DbError when the statement fails or is no COPY … TO STDOUT; an exception of `sink` ends the
/// COPY (the rest is read and dropped) and is passed on. COPY takes no parameters: quote values
/// with quoteLiteral().
std::int64_t copyOut(Connection& conn, std::string_view sql,
                     const std::function<void(std::string_view)>& sink);

/// `text` as an SQL string literal for this connection (PQescapeLiteral). Throws DbError.
std::string quoteLiteral(Connection& conn, std::string_view text);

}  // namespace mp::db
