// COPY … FROM STDIN over libpq: start, data, end, and leaving the connection usable on failure.
#include "db/copy.hpp"

#include <algorithm>
#include <string>

#include "db/pq.hpp"

namespace mp::db {

namespace detail {

DbError copyError(PGconn* conn, const PGresult* res) {
  std::string message;
  std::string sqlstate;
  if (res != nullptr) {
    if (const char* state = errorField(res, PG_DIAG_SQLSTATE)) sqlstate = state;
    const char* primary = errorField(res, PG_DIAG_MESSAGE_PRIMARY);
    message = primary != nullptr ? std::string(primary) : oneLine(PQresultErrorMessage(res));
    if (const char* detail = errorField(res, PG_DIAG_MESSAGE_DETAIL)) {
      message += std::string("; ") + detail;
    }
    // For a refused row: "COPY events, line 18, column ip: …".
    if (const char* context = errorField(res, PG_DIAG_CONTEXT)) message += "; " + oneLine(context);
  } else {
    message = oneLine(PQerrorMessage(conn));
  }
  if (sqlstate.empty() && PQstatus(conn) != CONNECTION_OK) {
    sqlstate = kSqlstateConnectionFailure;
  }
  return DbError(message, sqlstate);
}

}  // namespace detail

namespace {

// The libpq handle of `conn`; throws when it has none (moved from).
PGconn* handle(Connection& conn) {
  PGconn* pg = conn.native();
  if (pg == nullptr) {
    throw DbError("COPY: the connection is closed", std::string(kSqlstateConnectionFailure));
  }
  return pg;
}

}  // namespace

CopyIn::CopyIn(Connection& conn, std::string_view sql) : conn_(conn) {
  PGconn* pg = handle(conn_);
  const std::string command(sql);
  // PQexec runs the statements in order and stops at the COPY, waiting for its data.
  const Result res(PQexec(pg, command.c_str()));
  PGresult* raw = res.native();
  const ExecStatusType status = raw != nullptr ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  switch (status) {
    case PGRES_COPY_IN:
      open_ = true;
      return;
    case PGRES_COPY_OUT:
    case PGRES_COPY_BOTH:
      detail::abandonCopy(pg, status, nullptr);
      throw DbError("CopyIn takes COPY … FROM STDIN only",
                    std::string(kSqlstateFeatureNotSupported));
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
      throw DbError("CopyIn: the last statement is no COPY … FROM STDIN",
                    std::string(kSqlstateFeatureNotSupported));
    default:
      throw detail::copyError(pg, raw);
  }
}

CopyIn::~CopyIn() {
  if (!open_) return;
  PGconn* pg = conn_.native();
  if (pg == nullptr || PQstatus(pg) != CONNECTION_OK) return;
  // Refuse the data (the server then fails the COPY) and read every result up to the end.
  // Bounded: libpq turns a lost connection into an error result, but never spin on a surprise.
  for (int i = 0; i < 16; ++i) {
    const Result pending(PQgetResult(pg));
    PGresult* raw = pending.native();
    if (raw == nullptr) break;
    if (PQresultStatus(raw) == PGRES_COPY_IN) PQputCopyEnd(pg, "COPY abandoned");
  }
}

void CopyIn::put(std::string_view data) {
  PGconn* pg = handle(conn_);
  // libpq takes at most INT_MAX bytes at a time.
  constexpr std::size_t kMaxPut = std::size_t{1} << 30;
  while (!data.empty()) {
    const std::size_t n = std::min(data.size(), kMaxPut);
    if (PQputCopyData(pg, data.data(), static_cast<int>(n)) != 1) {
      throw detail::copyError(pg, nullptr);
    }
    data.remove_prefix(n);
  }
}

Result CopyIn::end() {
  PGconn* pg = handle(conn_);
  if (PQputCopyEnd(pg, nullptr) != 1) throw detail::copyError(pg, nullptr);
  open_ = false;
  // The COPY's result, then the end of the query; the first failure is the one reported.
  Result outcome;
  Result failure;
  for (;;) {
    Result res(PQgetResult(pg));
    if (res.native() == nullptr) break;
    const ExecStatusType status = PQresultStatus(res.native());
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      if (!outcome.native()) outcome = std::move(res);
    } else if (!failure.native()) {
      failure = std::move(res);
    }
  }
  if (failure.native()) throw detail::copyError(pg, failure.native());
  return outcome;
}

std::int64_t copyOut(Connection& conn, std::string_view sql,
                     const std::function<void(std::string_view)>& sink) {
  PGconn* pg = handle(conn);
  const std::string command(sql);
  {
    const Result res(PQexec(pg, command.c_str()));
    PGresult* raw = res.native();
    const ExecStatusType status = raw != nullptr ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
    if (status == PGRES_COPY_IN) {
      detail::abandonCopy(pg, status, "copyOut takes COPY ... TO STDOUT only");
      throw DbError("copyOut takes COPY … TO STDOUT only",
                    std::string(kSqlstateFeatureNotSupported));
    }
    if (status != PGRES_COPY_OUT) {
      if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        throw DbError("copyOut: the statement is no COPY … TO STDOUT",
                      std::string(kSqlstateFeatureNotSupported));
      }
      throw detail::copyError(pg, raw);
    }
  }
  for (;;) {
    char* buf = nullptr;
    const int n = PQgetCopyData(pg, &buf, 0);
    if (n > 0) {
      try {
        sink(std::string_view(buf, static_cast<std::size_t>(n)));
      } catch (...) {
        PQfreemem(buf);
        detail::abandonCopy(pg, PGRES_COPY_OUT, nullptr);
        throw;
      }
      PQfreemem(buf);
      continue;
    }
    if (n == -2) throw detail::copyError(pg, nullptr);
    break;  // -1: done; the result follows
  }
  const Result res(PQgetResult(pg));
  while (PGresult* rest = PQgetResult(pg)) PQclear(rest);
  PGresult* raw = res.native();
  if (raw == nullptr || PQresultStatus(raw) != PGRES_COMMAND_OK) throw detail::copyError(pg, raw);
  return res.affected();
}

std::string quoteLiteral(Connection& conn, std::string_view text) {
  PGconn* pg = handle(conn);
  char* quoted = PQescapeLiteral(pg, text.data(), text.size());
  if (quoted == nullptr) throw detail::copyError(pg, nullptr);
  std::string out(quoted);
  PQfreemem(quoted);
  return out;
}

}  // namespace mp::db
