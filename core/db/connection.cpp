// libpq wrappers: connecting, parameterised statements, error translation and transactions.
#include "db/connection.hpp"

#include <poll.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <stdexcept>
#include <utility>

#include "db/pq.hpp"
#include "log/log.hpp"

namespace mp::db {
namespace {

// A region of a connection string holding a password.
struct Span {
  std::size_t pos;
  std::size_t len;
};

bool isUriForm(std::string_view s) {
  return s.rfind("postgresql://", 0) == 0 || s.rfind("postgres://", 0) == 0;
}

// Mirrors libpq's own reading of a URI (fe-connect.c conninfo_uri_parse_options): the user
// information ends at the first '@' or '/', and the password follows its first ':'.
void uriPasswordSpans(std::string_view url, std::vector<Span>& spans) {
  const std::size_t start = url.find("://") + 3;
  const std::size_t stop = url.find_first_of("@/?", start);
  if (stop != std::string_view::npos && url[stop] == '@') {
    const std::size_t colon = url.find(':', start);
    if (colon != std::string_view::npos && colon < stop)
      spans.push_back({colon + 1, stop - colon - 1});
  }
  // "?password=…" is as valid as the user information.
  std::size_t q = url.find('?', start);
  while (q != std::string_view::npos) {
    const std::size_t key = q + 1;
    const std::size_t amp = url.find('&', key);
    const std::size_t end = amp == std::string_view::npos ? url.size() : amp;
    constexpr std::string_view kKey = "password=";
    if (url.substr(key, kKey.size()) == kKey) {
      spans.push_back({key + kKey.size(), end - key - kKey.size()});
    }
    q = amp;
  }
}

// key = value form: password = secret, or password = 'sec ret' with \' and \\ escapes.
void keyValuePasswordSpans(std::string_view s, std::vector<Span>& spans) {
  constexpr std::string_view kKey = "password";
  std::size_t at = s.find(kKey);
  while (at != std::string_view::npos) {
    const bool wordStart = at == 0 || s[at - 1] == ' ' || s[at - 1] == '\t' || s[at - 1] == '\n';
    std::size_t i = at + kKey.size();
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (wordStart && i < s.size() && s[i] == '=') {
      ++i;
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
      std::size_t begin = i;
      if (i < s.size() && s[i] == '\'') {
        begin = ++i;
        while (i < s.size() && s[i] != '\'') i += (s[i] == '\\' && i + 1 < s.size()) ? 2 : 1;
      } else {
        while (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '\n') ++i;
      }
      const std::size_t end = std::min(i, s.size());
      if (end > begin) spans.push_back({begin, end - begin});
    }
    at = s.find(kKey, at + kKey.size());
  }
}

std::vector<Span> passwordSpans(std::string_view url) {
  std::vector<Span> spans;
  if (isUriForm(url)) {
    uriPasswordSpans(url, spans);
  } else {
    keyValuePasswordSpans(url, spans);
  }
  return spans;
}

std::string percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned value = 0;
    if (s[i] == '%' && i + 2 < s.size() &&
        std::from_chars(s.data() + i + 1, s.data() + i + 3, value, 16).ptr == s.data() + i + 3) {
      out.push_back(static_cast<char>(value));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Every spelling of the password that could show up in a libpq message.
std::vector<std::string> passwordSpellings(std::string_view url) {
  std::vector<std::string> secrets;
  for (const Span& span : passwordSpans(url)) {
    std::string raw(url.substr(span.pos, span.len));
    if (raw.empty()) continue;
    secrets.push_back(percentDecode(raw));
    secrets.push_back(std::move(raw));
  }
  // Longest first, so a secret that contains another is replaced whole.
  std::sort(secrets.begin(), secrets.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return secrets;
}

std::string scrub(std::string message, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    for (std::size_t at = message.find(secret); at != std::string::npos;
         at = message.find(secret, at + 3)) {
      message.replace(at, secret.size(), "***");
    }
  }
  return message;
}

using detail::oneLine;

const char* field(const PGresult* res, int code) {
  return detail::errorField(res, code);
}

// PG_DIAG_STATEMENT_POSITION counts characters, not bytes, from 1.
int lineOfPosition(std::string_view sql, long position) {
  int line = 1;
  long chars = 0;
  for (char c : sql) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80 && ++chars >= position) break;
    if (c == '\n') ++line;
  }
  return line;
}

void receiveNotice(void* /*arg*/, const PGresult* res) {
  // A C callback: nothing may unwind through libpq.
  try {
    const char* severity = field(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char* text = field(res, PG_DIAG_MESSAGE_PRIMARY);
    if (text == nullptr) return;
    const bool warning = severity != nullptr && std::string_view(severity) == "WARNING";
    log::get("db")->log(warning ? spdlog::level::warn : spdlog::level::debug, "server {}: {}",
                        severity != nullptr ? severity : "notice", text);
  } catch (...) {
  }
}

bool selectOne(PGconn* conn) noexcept {
  PGresult* res = PQexec(conn, "SELECT 1");
  const bool ok = res != nullptr && PQresultStatus(res) == PGRES_TUPLES_OK;
  PQclear(res);
  return ok;
}

}  // namespace

namespace detail {

std::string oneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

const char* errorField(const PGresult* res, int code) {
  const char* value = PQresultErrorField(res, code);
  return value != nullptr && *value != '\0' ? value : nullptr;
}

void abandonCopy(PGconn* conn, ExecStatusType status, const char* reason) noexcept {
  if (status == PGRES_COPY_IN) {
    PQputCopyEnd(conn, reason);
  } else {
    char* buf = nullptr;
    while (PQgetCopyData(conn, &buf, 0) > 0) PQfreemem(buf);
  }
  while (PGresult* rest = PQgetResult(conn)) PQclear(rest);
}

}  // namespace detail

std::string redactUrl(std::string_view url) {
  std::string out(url);
  auto spans = passwordSpans(url);
  // Back to front, so earlier positions stay valid.
  std::sort(spans.begin(), spans.end(), [](Span a, Span b) { return a.pos > b.pos; });
  for (const Span& span : spans) out.replace(span.pos, span.len, "***");
  return out;
}

// ---- Result ----

void Result::Clear::operator()(pg_result* res) const noexcept {
  PQclear(res);
}

Result::Result(pg_result* res) noexcept : res_(res) {}

int Result::rows() const noexcept {
  return res_ ? PQntuples(res_.get()) : 0;
}

int Result::cols() const noexcept {
  return res_ ? PQnfields(res_.get()) : 0;
}

std::int64_t Result::affected() const noexcept {
  if (!res_) return 0;
  const std::string_view text = PQcmdTuples(res_.get());
  std::int64_t n = 0;
  std::from_chars(text.data(), text.data() + text.size(), n);
  return n;
}

std::string_view Result::commandTag() const noexcept {
  return res_ ? std::string_view(PQcmdStatus(res_.get())) : std::string_view();
}

int Result::column(std::string_view name) const {
  const int col = res_ ? PQfnumber(res_.get(), std::string(name).c_str()) : -1;
  if (col < 0) throw std::out_of_range("the result has no column \"" + std::string(name) + "\"");
  return col;
}

void Result::check(int row, int col) const {
  if (row < 0 || row >= rows() || col < 0 || col >= cols()) {
    throw std::out_of_range("row " + std::to_string(row) + ", column " + std::to_string(col) +
                            " is outside a result of " + std::to_string(rows()) + " rows and " +
                            std::to_string(cols()) + " columns");
  }
}

bool Result::isNull(int row, int col) const {
  check(row, col);
  return PQgetisnull(res_.get(), row, col) == 1;
}

std::string_view Result::get(int row, int col) const {
  check(row, col);
  return {PQgetvalue(res_.get(), row, col),
          static_cast<std::size_t>(PQgetlength(res_.get(), row, col))};
}

std::optional<std::string> Result::opt(int row, int col) const {
  if (isNull(row, col)) return std::nullopt;
  return std::string(get(row, col));
}

std::int64_t Result::getInt(int row, int col) const {
  if (isNull(row, col)) {
    throw DbError("column " + std::string(PQfname(res_.get(), col)) + " is NULL, not an integer",
                  "22004");
  }
  const std::string_view text = get(row, col);
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw DbError("column " + std::string(PQfname(res_.get(), col)) + " holds \"" +
                      std::string(text) + "\", not a 64-bit integer",
                  "22P02");
  }
  return value;
}

bool Result::getBool(int row, int col) const {
  const std::string_view text = isNull(row, col) ? std::string_view("NULL") : get(row, col);
  if (text == "t") return true;
  if (text == "f") return false;
  throw DbError("column " + std::string(PQfname(res_.get(), col)) + " holds " + std::string(text) +
                    ", not a boolean",
                "22P02");
}

// ---- Connection ----

void Connection::Finish::operator()(pg_conn* conn) const noexcept {
  PQfinish(conn);
}

Connection::Connection(const std::string& url, std::chrono::seconds connectTimeout) {
  const auto secrets = passwordSpellings(url);
  // Parse first: libpq's syntax errors quote the offending text, which may be the password.
  char* parseError = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &parseError);
  if (options == nullptr) {
    std::string reason = parseError != nullptr ? oneLine(parseError) : "out of memory";
    PQfreemem(parseError);
    throw DbError("invalid database URL " + redactUrl(url) + ": " + scrub(reason, secrets),
                  std::string(kSqlstateUnableToConnect));
  }
  PQconninfoFree(options);

  // Order matters: a URL may override application_name, but the configured timeout and the
  // UTF-8 client encoding the code relies on come after it and win.
  const std::string timeout = std::to_string(connectTimeout.count());
  const std::array<const char*, 5> keys = {"application_name", "dbname", "connect_timeout",
                                           "client_encoding", nullptr};
  const std::array<const char*, 5> values = {"metricpulse", url.c_str(), timeout.c_str(), "UTF8",
                                             nullptr};
  conn_.reset(PQconnectdbParams(keys.data(), values.data(), 1));
  if (!conn_) throw DbError("cannot connect to PostgreSQL: out of memory", "08001");
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    std::string reason = scrub(oneLine(PQerrorMessage(conn_.get())), secrets);
    conn_.reset();
    throw DbError("cannot connect to PostgreSQL at " + redactUrl(url) + ": " + reason,
                  std::string(kSqlstateUnableToConnect));
  }
  // Without a receiver libpq prints NOTICEs (e.g. "relation already exists, skipping") on stderr.
  PQsetNoticeReceiver(conn_.get(), receiveNotice, nullptr);
}

Connection::~Connection() = default;
Connection::Connection(Connection&& other) noexcept = default;
Connection& Connection::operator=(Connection&& other) noexcept = default;

void Connection::throwConnectionError(const std::string& what) {
  if (!conn_)
    throw DbError(what + ": the connection was closed", std::string(kSqlstateConnectionFailure));
  const bool lost = PQstatus(conn_.get()) != CONNECTION_OK;
  throw DbError(what + ": " + oneLine(PQerrorMessage(conn_.get())),
                lost ? std::string(kSqlstateConnectionFailure) : std::string());
}

Result Connection::check(pg_result* raw, std::string_view sql) {
  Result result(raw);
  if (raw == nullptr) throwConnectionError("PostgreSQL statement failed");
  switch (PQresultStatus(raw)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
      return result;
    case PGRES_COPY_IN:
    case PGRES_COPY_OUT:
    case PGRES_COPY_BOTH:
      // Leave the connection usable: end the copy and drain what the server sends back.
      detail::abandonCopy(conn_.get(), PQresultStatus(raw),
                          "COPY is not supported by Connection::exec");
      throw DbError("COPY is not supported by Connection::exec",
                    std::string(kSqlstateFeatureNotSupported));
    default:
      break;
  }

  const char* sqlstate = field(raw, PG_DIAG_SQLSTATE);
  std::string message;
  if (const char* primary = field(raw, PG_DIAG_MESSAGE_PRIMARY)) {
    message = primary;
  } else {
    // Client-side failures (a lost connection) carry no fields, only the message.
    message = oneLine(PQresultErrorMessage(raw));
    if (message.empty()) message = oneLine(PQerrorMessage(conn_.get()));
  }
  if (const char* detail = field(raw, PG_DIAG_MESSAGE_DETAIL))
    message += std::string("; ") + detail;
  if (const char* hint = field(raw, PG_DIAG_MESSAGE_HINT))
    message += std::string("; hint: ") + hint;
  if (sql.find('\n') != std::string_view::npos) {
    if (const char* position = field(raw, PG_DIAG_STATEMENT_POSITION)) {
      long pos = 0;
      std::from_chars(position, position + std::char_traits<char>::length(position), pos);
      message += " (line " + std::to_string(lineOfPosition(sql, pos)) + ")";
    }
    if (const char* context = field(raw, PG_DIAG_CONTEXT)) message += "; in " + oneLine(context);
  }
  std::string state = sqlstate != nullptr ? sqlstate : "";
  if (state.empty() && PQstatus(conn_.get()) != CONNECTION_OK) {
    state = kSqlstateConnectionFailure;
  }
  throw DbError(message, state);
}

Result Connection::exec(std::string_view sql, const Params& params) {
  if (!conn_) throwConnectionError("PostgreSQL statement failed");
  // libpq allows 65535 parameters, the protocol's 16-bit count.
  if (params.size() > 65535) {
    throw DbError("too many statement parameters (" + std::to_string(params.size()) + ")", "54023");
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Param& p = params[i];
    if (!p) {
      values.push_back(nullptr);
      continue;
    }
    // Text-format values are C strings: a NUL would silently cut the value short. PostgreSQL
    // text cannot hold NUL either, so refuse it as the server would.
    if (p->find('\0') != std::string::npos) {
      throw DbError("parameter $" + std::to_string(i + 1) + " contains a NUL byte", "22021");
    }
    values.push_back(p->c_str());
  }
  const std::string command(sql);
  PGresult* res = PQexecParams(conn_.get(), command.c_str(), static_cast<int>(params.size()),
                               nullptr, values.data(), nullptr, nullptr, 0);
  return check(res, sql);
}

void Connection::execScript(std::string_view sql) {
  if (!conn_) throwConnectionError("PostgreSQL script failed");
  const std::string script(sql);
  check(PQexec(conn_.get(), script.c_str()), sql);
}

std::vector<Result> Connection::execAll(std::string_view sql) {
  if (!conn_) throwConnectionError("PostgreSQL script failed");
  const std::string script(sql);
  if (PQsendQuery(conn_.get(), script.c_str()) != 1) {
    throwConnectionError("PostgreSQL script failed");
  }
  // Every result is read, even after a failure, so the connection is ready for the next
  // statement; the first failure is the one reported (PostgreSQL runs nothing after it).
  std::vector<Result> results;
  std::optional<DbError> failure;
  while (PGresult* raw = PQgetResult(conn_.get())) {
    if (failure) {
      PQclear(raw);
      continue;
    }
    try {
      results.push_back(check(raw, sql));
    } catch (const DbError& e) {
      failure = e;
    }
  }
  if (failure) throw *failure;
  return results;
}

bool Connection::healthy() const noexcept {
  return conn_ && PQstatus(conn_.get()) == CONNECTION_OK;
}

bool Connection::probe() noexcept {
  if (!healthy()) return false;
  // Pooled connections never LISTEN, so an idle one has nothing to read unless the server is
  // telling us it is going away (the FATAL message and EOF that pg_terminate_backend or an idle
  // timeout send). Using such a connection would fail the caller's first statement.
  pollfd pfd{PQsocket(conn_.get()), POLLIN, 0};
  const int n = ::poll(&pfd, 1, 0);
  return n == 0;
}

bool Connection::reset() noexcept {
  if (!conn_) return false;
  PQreset(conn_.get());
  return PQstatus(conn_.get()) == CONNECTION_OK;
}

bool Connection::ping() noexcept {
  if (!conn_) return false;
  if (PQstatus(conn_.get()) != CONNECTION_OK && !reset()) return false;
  if (selectOne(conn_.get())) return true;
  // A failed SELECT 1 on a connection libpq still calls open (an aborted transaction) is not
  // usable as it is; one that broke is worth one reconnect.
  if (PQstatus(conn_.get()) == CONNECTION_OK) return false;
  return reset() && selectOne(conn_.get());
}

bool Connection::inTransaction() const noexcept {
  if (!conn_) return false;
  const PGTransactionStatusType status = PQtransactionStatus(conn_.get());
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE;
}

int Connection::backendPid() const noexcept {
  return conn_ ? PQbackendPID(conn_.get()) : 0;
}

int Connection::serverVersion() const noexcept {
  return conn_ ? PQserverVersion(conn_.get()) : 0;
}

// ---- Transaction ----

Transaction::Transaction(Connection& conn, Isolation isolation)
    : Transaction(conn, TransactionOptions{isolation, false, {}}) {}

Transaction::Transaction(Connection& conn, const TransactionOptions& options) : conn_(conn) {
  std::string begin = "BEGIN";
  switch (options.isolation) {
    case Isolation::kReadCommitted:
      break;
    case Isolation::kRepeatableRead:
      begin += " ISOLATION LEVEL REPEATABLE READ";
      break;
    case Isolation::kSerializable:
      begin += " ISOLATION LEVEL SERIALIZABLE";
      break;
  }
  if (options.readOnly) begin += " READ ONLY";
  if (options.settings.empty()) {
    conn_.exec(begin);
    return;
  }
  // One simple query: BEGIN and the settings take one round trip.
  for (const TransactionOptions::Setting& setting : options.settings) {
    begin += "; SET LOCAL " + setting.name + " = " + setting.value;
  }
  try {
    conn_.execScript(begin);
  } catch (...) {
    // BEGIN succeeded and a setting failed: the block is open, aborted, and no destructor will
    // end it.
    try {
      if (conn_.inTransaction()) conn_.exec("ROLLBACK");
    } catch (...) {
      // A broken connection has no transaction left; the pool will notice it.
    }
    throw;
  }
}

Transaction::~Transaction() {
  if (done_) return;
  try {
    // A COMMIT that failed, or a connection that broke, has already ended the block.
    if (conn_.inTransaction()) conn_.exec("ROLLBACK");
  } catch (const std::exception& e) {
    try {
      log::get("db")->warn("rollback failed: {}", e.what());
    } catch (...) {
    }
  }
}

namespace {

// PostgreSQL answers COMMIT of a block aborted by an earlier error with success and the tag
// ROLLBACK; the caller must not believe its changes were kept.
void checkCommitted(const Result& commit) {
  if (commit.commandTag() == "ROLLBACK") {
    throw DbError("the transaction was rolled back: an earlier statement in it failed",
                  std::string(kSqlstateInFailedTransaction));
  }
}

}  // namespace

void Transaction::commit() {
  done_ = true;
  checkCommitted(conn_.exec("COMMIT"));
}

std::vector<Result> Transaction::commitAfter(std::string_view sql) {
  std::string script(sql);
  script += "; COMMIT";
  // A failed statement skips the rest, COMMIT included: the block stays open, aborted, for the
  // destructor to roll back. A failed COMMIT has ended it.
  std::vector<Result> results = conn_.execAll(script);
  done_ = true;
  if (results.empty()) {
    throw DbError("COMMIT sent no result", std::string(kSqlstateConnectionFailure));
  }
  checkCommitted(results.back());
  results.pop_back();
  return results;
}

void Transaction::rollback() {
  done_ = true;
  conn_.exec("ROLLBACK");
}

}  // namespace mp::db
