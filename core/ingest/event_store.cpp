// The hot write path: a batch goes to PostgreSQL in two or three round trips whatever its size.
#include "ingest/event_store.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>
#include <unordered_set>

#include "db/copy.hpp"
#include "events/attribution.hpp"
#include "util/time.hpp"
#include "util/uuid.hpp"

namespace mp::ingest {
namespace {

// A session-local table without indexes to COPY into: COPY cannot skip rows that are already
// stored, INSERT … SELECT … ON CONFLICT DO NOTHING can. CREATE … IF NOT EXISTS in the same round
// trip as BEGIN and COPY makes it once per session without remembering which connection has it
// (a pooled connection may have been reset), and works under transaction pooling too.
// ON COMMIT DELETE ROWS empties it at every commit, so it never grows or needs vacuuming.
// client_min_messages hides the "already exists, skipping" notice every later batch would get.
constexpr std::string_view kStagingTable = "mp_events_staging";

std::string stageAndCopySql() {
  std::string sql =
      "SET LOCAL client_min_messages = warning; "
      "CREATE TEMP TABLE IF NOT EXISTS ";
  sql.append(kStagingTable);
  sql.append(" (LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS; COPY ");
  sql.append(kStagingTable);
  sql.append(" (");
  sql.append(EventStore::kColumns);
  sql.append(") FROM STDIN");
  return sql;
}

// An event for a UTC day before the current one (by the database's clock) may land in a day
// whose rollups are final: this upsert marks the aggregation_runs row of each such website and
// day dirty in the batch's own transaction, so the stats read that day from raw events until the
// next fold repairs it (0003_day_scoped_visitors.sql has the whole argument). A day never folded
// gets a row too: a fold of it running right now would otherwise miss the mark, and the
// scheduled fold finds the day by it. Rows in (website, day) order, as every writer and the fold
// lock them, so concurrent writers cannot deadlock; events of a website that no longer exists
// mark nothing. Always an update, even of a row already dirty: a fold whose snapshot misses this
// batch must then fail to clear the mark (REPEATABLE READ) rather than clear it.
std::string markLateDaysSql() {
  // Days are the website's (its time zone): the day of each event, and "today", in its zone.
  std::string sql =
      "INSERT INTO aggregation_runs (website_id, date, folded_at, events, dirty)"
      " SELECT s.website_id, s.date, '-infinity', 0, true FROM (SELECT DISTINCT e.website_id,"
      " (e.ts AT TIME ZONE w.time_zone)::date AS date FROM ";
  sql.append(kStagingTable);
  sql.append(
      " e JOIN websites w ON w.id = e.website_id"
      " WHERE e.ts < date_trunc('day', statement_timestamp() AT TIME ZONE w.time_zone)"
      " AT TIME ZONE w.time_zone) s"
      " ORDER BY s.website_id, s.date"
      " ON CONFLICT (website_id, date) DO UPDATE SET dirty = true");
  return sql;
}

// Sent with COMMIT: the INSERT's result comes first.
std::string insertSql(bool markLateDays) {
  std::string sql = "INSERT INTO events (";
  sql.append(EventStore::kColumns);
  sql.append(") SELECT ");
  sql.append(EventStore::kColumns);
  sql.append(" FROM ");
  sql.append(kStagingTable);
  sql.append(" ON CONFLICT DO NOTHING");
  if (markLateDays) {
    sql.append("; ");
    sql.append(markLateDaysSql());
  }
  return sql;
}

// Whether the batch may hold an event of a day before the current day of its website's zone.
// Many batches hold only events of today everywhere, and then the marking statement is not even
// sent. The threshold is the start of the UTC day twelve hours later (today begins that late in
// the westernmost zones, UTC-12), an hour ahead of this host's clock, so a database clock up to
// an hour ahead still finds every late event marked.
bool mayHoldLateEvents(std::span<const events::Event> events) {
  using util::kDayMillis;
  constexpr std::int64_t kClockSlackMillis = 3'600'000;
  constexpr std::int64_t kWestmostOffsetMillis = 12 * 3'600'000;
  const std::int64_t ahead = util::nowMillis() + kClockSlackMillis;
  const std::int64_t threshold =
      (ahead - ((ahead % kDayMillis) + kDayMillis) % kDayMillis) + kWestmostOffsetMillis;
  for (const events::Event& e : events) {
    if (e.tsMillis < threshold) return true;
  }
  return false;
}

// Flushing the COPY buffer at this size streams a large batch instead of holding all of it.
constexpr std::size_t kCopyChunkBytes = std::size_t{256} * 1024;

// The DbError of a failed step of writing a batch, naming the step; the SQLSTATE stays.
[[noreturn]] void failed(std::string_view during, const DbError& e) {
  throw DbError("writing events: " + std::string(during) + " failed: " + e.what(), e.sqlstate());
}

db::Transaction begin(db::Connection& conn) {
  try {
    return db::Transaction(conn);
  } catch (const DbError& e) {
    failed("BEGIN", e);
  }
}

// One COPY text-format field: the escapes COPY's text format requires (backslash, and the
// delimiter and line ends, which would otherwise split the row); NUL cannot be stored at all.
void appendField(std::string& out, std::string_view value) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const char* escape = nullptr;
    switch (c) {
      case '\\':
        escape = "\\\\";
        break;
      case '\t':
        escape = "\\t";
        break;
      case '\n':
        escape = "\\n";
        break;
      case '\r':
        escape = "\\r";
        break;
      case '\0':
        escape = "";
        break;
      default:
        continue;
    }
    out.append(value.substr(start, i - start));
    out.append(escape);
    start = i + 1;
  }
  out.append(value.substr(start));
}

void appendOptional(std::string& out, std::string_view value) {
  if (value.empty()) {
    out.append("\\N");
  } else {
    appendField(out, value);
  }
}

void appendLine(std::string& out, const events::Event& e) {
  appendField(out, e.websiteId);
  out.push_back('\t');
  // RFC 3339 with an explicit Z and milliseconds: exact, and independent of the session's
  // TimeZone and DateStyle.
  out.append(util::formatRfc3339Millis(e.tsMillis));
  out.push_back('\t');
  appendField(out, e.id);
  out.push_back('\t');
  // The API's default; the column's own default does not apply to a value COPY supplies.
  appendField(out, e.eventType.empty() ? std::string_view("pageview") : e.eventType);
  out.push_back('\t');
  appendField(out, e.page);
  out.push_back('\t');
  appendField(out, e.url);
  out.push_back('\t');
  appendField(out, e.hostname);
  out.push_back('\t');
  appendOptional(out, e.referrer);
  out.push_back('\t');
  appendOptional(out, e.referrerHost);
  out.push_back('\t');
  appendField(out, e.sessionId);
  out.push_back('\t');
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, e.visitorId).ptr;
  out.append(digits, end);
  out.push_back('\t');
  appendField(out, e.userAgent);
  out.push_back('\t');
  appendField(out, e.browser);
  out.push_back('\t');
  appendField(out, e.os);
  out.push_back('\t');
  appendField(out, e.device);
  out.push_back('\t');
  appendOptional(out, e.country);
  out.push_back('\t');
  appendOptional(out, e.ip);
  out.push_back('\t');
  appendOptional(out, e.props);
  // Where it came from (docs/metrics.md): worked out here, off the HTTP workers, from the page
  // URL's query and the referrer the tracker kept.
  std::string_view query = e.url;
  const auto question = query.find('?');
  query = question == std::string_view::npos ? std::string_view() : query.substr(question + 1);
  query = query.substr(0, query.find('#'));
  const events::Attribution a = events::attribute(query, e.hostname, e.referrerHost);
  out.push_back('\t');
  appendOptional(out, a.source.value_or(std::string()));
  out.push_back('\t');
  appendField(out, a.channel);
  for (const auto& utm : {a.utmSource, a.utmMedium, a.utmCampaign, a.utmTerm, a.utmContent}) {
    out.push_back('\t');
    appendOptional(out, utm.value_or(std::string()));
  }
  out.push_back('\t');
  out.append(e.interactive ? "t" : "f");
  out.push_back('\n');
}

// Streams `events` through `copySql` (ending in COPY … FROM STDIN) and returns the COPY's result;
// `copying` names the COPY in messages. A failure abandons the COPY, and the caller's transaction
// rolls back.
db::Result copyRows(db::Connection& conn, const std::string& copySql,
                    std::span<const events::Event> events, std::string_view copying) {
  std::string_view during = "starting COPY";
  try {
    db::CopyIn copy(conn, copySql);
    during = "sending COPY data";
    std::string buffer;
    buffer.reserve(kCopyChunkBytes + 4096);
    for (const events::Event& e : events) {
      appendLine(buffer, e);
      if (buffer.size() >= kCopyChunkBytes) {
        copy.put(buffer);
        buffer.clear();
      }
    }
    copy.put(buffer);
    during = copying;
    return copy.end();
  } catch (const DbError& e) {
    failed(during, e);
  }
}

// A batch must never store events of a website that no longer exists, events queued before it
// was deleted included. The guard: in the batch's own transaction, before its rows are written,
// lock the rows of its websites FOR KEY SHARE (what a foreign key check takes) and keep only the
// events of the websites found. A website deleted before this statement is not found; one whose
// deletion is in progress is waited for and then not found; and a deletion that comes later
// waits for this transaction to end, so its DELETE of the website's events sees these rows.
// Nothing per event: one index lookup per website of the batch, in one more round trip.
// Returns the events to write: `events` itself, or `kept` when some were left out.
std::span<const events::Event> lockWebsites(db::Connection& conn,
                                            std::span<const events::Event> events,
                                            std::vector<events::Event>& kept) {
  std::unordered_set<std::string> ids;
  std::string array = "{";
  for (const events::Event& e : events) {
    // Only UUIDs go into the literal (nothing in them needs quoting).
    if (!util::isUuid(e.websiteId) || !ids.insert(e.websiteId).second) continue;
    if (array.size() > 1) array.push_back(',');
    array.append(e.websiteId);
  }
  array.push_back('}');
  db::Result res;
  try {
    res = conn.exec(
        "SELECT id::text FROM websites WHERE id = ANY($1::uuid[]) ORDER BY id FOR KEY SHARE",
        {std::move(array)});
  } catch (const DbError& e) {
    failed("locking the batch's websites", e);
  }
  std::unordered_set<std::string> live;
  for (int r = 0; r < res.rows(); ++r) live.emplace(res.get(r, 0));
  // Found rows are a subset of the ids asked for: the same number means every one was found.
  if (live.size() == ids.size()) return events;
  kept.clear();
  for (const events::Event& e : events) {
    // An id that is not a UUID stays: PostgreSQL refuses it, and that is counted as a rejection.
    if (live.count(e.websiteId) || !util::isUuid(e.websiteId)) kept.push_back(e);
  }
  return kept;
}

// The common case, two round trips and each row written once: COPY straight into events. A batch
// holding an event that is already stored (a redelivery after a writer died between COMMIT and
// XACK) fails with unique_violation as a whole; then it is rolled back and std::nullopt tells the
// caller to take the staging path, which skips such rows.
std::optional<std::size_t> copyDirect(db::Connection& conn, std::span<const events::Event> all) {
  static const std::string kCopy =
      "COPY events (" + std::string(EventStore::kColumns) + ") FROM STDIN";
  db::Transaction tx = begin(conn);
  std::vector<events::Event> kept;
  const auto events = lockWebsites(conn, all, kept);
  db::Result copied;
  try {
    copied = copyRows(conn, kCopy, events, "COPY into events");
  } catch (const DbError& e) {
    // Rolled back as tx ends.
    if (e.sqlstate() == db::kSqlstateUniqueViolation) return std::nullopt;
    throw;
  }
  try {
    tx.commit();
  } catch (const DbError& e) {
    failed("COMMIT", e);
  }
  return static_cast<std::size_t>(copied.affected());
}

void isolate(db::Connection& conn, std::span<const events::Event> events, std::size_t offset,
             IsolatedInsert& out) {
  if (events.empty()) return;
  try {
    out.inserted += EventStore::insertBatch(conn, events);
  } catch (const DbError& e) {
    if (!isDataError(e)) throw;
    if (events.size() == 1) {
      if (out.rejected.empty()) out.firstRejection = e.what();
      out.rejected.push_back(offset);
      return;
    }
    // Halving finds k bad events among n in about 2·k·log2(n) transactions.
    const std::size_t half = events.size() / 2;
    isolate(conn, events.first(half), offset, out);
    isolate(conn, events.subspan(half), offset + half, out);
  }
}

}  // namespace

std::size_t EventStore::insertBatch(db::Connection& conn,
                                    const std::vector<events::Event>& events) {
  return insertBatch(conn, std::span<const events::Event>(events));
}

std::size_t EventStore::insertBatch(db::Connection& conn, std::span<const events::Event> events) {
  if (events.empty()) return 0;
  if (conn.native() == nullptr) {
    throw DbError("writing events: the connection is closed",
                  std::string(db::kSqlstateConnectionFailure));
  }
  if (!conn.healthy() || conn.inTransaction()) {
    // BEGIN inside a transaction would only warn, and the batch would commit the caller's work.
    throw DbError("writing events: the connection is inside a transaction",
                  std::string(db::kSqlstateActiveTransaction));
  }

  static const std::string kStageAndCopy = stageAndCopySql();
  static const std::string kInsert = insertSql(false);
  static const std::string kInsertAndMark = insertSql(true);

  const bool late = mayHoldLateEvents(events);
  if (!late) {
    if (auto copied = copyDirect(conn, events)) return *copied;
  }

  // The staging path: for batches that may hold stored events or late days to mark.
  // 1: BEGIN and the guard.
  db::Transaction tx = begin(conn);
  std::vector<events::Event> kept;
  events = lockWebsites(conn, events, kept);

  // 2: the staging table and the COPY start in one round trip (the COPY then waits for its
  // data), and the rows, streamed in chunks.
  copyRows(conn, kStageAndCopy, events, "COPY into the staging table");

  // 3: move the new rows over (marking late days) and commit, in one round trip.
  std::vector<db::Result> inserted;
  try {
    inserted = tx.commitAfter(late ? kInsertAndMark : kInsert);
  } catch (const DbError& e) {
    failed("INSERT into events", e);
  }
  return static_cast<std::size_t>(inserted.front().affected());
}

IsolatedInsert EventStore::insertIsolating(db::Connection& conn,
                                           std::span<const events::Event> events) {
  IsolatedInsert out;
  isolate(conn, events, 0, out);
  return out;
}

std::string EventStore::copyLine(const events::Event& event) {
  std::string line;
  appendLine(line, event);
  return line;
}

void WriterStats::recordBatch(std::size_t events, const IsolatedInsert& outcome,
                              std::chrono::steady_clock::duration elapsed) noexcept {
  const std::size_t rejectedCount = outcome.rejected.size();
  const std::size_t duplicates =
      events >= outcome.inserted + rejectedCount ? events - outcome.inserted - rejectedCount : 0;
  batchesWritten.fetch_add(1, std::memory_order_relaxed);
  eventsWritten.fetch_add(outcome.inserted, std::memory_order_relaxed);
  eventsDuplicated.fetch_add(duplicates, std::memory_order_relaxed);
  rejected.fetch_add(rejectedCount, std::memory_order_relaxed);
  lastBatchSize.store(events, std::memory_order_relaxed);
  batchLatencyMs.observe(std::chrono::duration<double, std::milli>(elapsed).count());
  batchSize.observe(static_cast<double>(events));
}

}  // namespace mp::ingest
