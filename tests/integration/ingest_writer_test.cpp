// The ingest write path against real services: EventStore, QueueWriter draining a private Redis
// through outages and crashes, and the DirectWriter fallback.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "db/pool.hpp"
#include "events/event.hpp"
#include "ingest/direct_writer.hpp"
#include "ingest/event_store.hpp"
#include "ingest/queue_writer.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "support/env.hpp"
#include "support/seed.hpp"
#include "util/time.hpp"
#include "util/uuid.hpp"

namespace mp::ingest {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kStream(redis::kIngestStream);
const std::string kGroup(redis::kIngestGroup);
const std::string kSiteA = "5a1e0000-0000-4000-8000-00000000000a";
const std::string kSiteB = "5a1e0000-0000-4000-8000-00000000000b";

// A plausible event; `i` varies every field so a mix-up between rows or columns shows.
events::Event makeEvent(int i) {
  events::Event e;
  e.id = util::uuidV7();
  e.websiteId = i % 3 == 0 ? kSiteB : kSiteA;
  e.tsMillis = util::nowMillis() - 3'600'000 + std::int64_t{i} * 7;
  e.eventType = i % 10 == 0 ? "signup" : "pageview";
  e.page = "/docs/page-" + std::to_string(i % 50);
  e.url = "https://example.com" + e.page + "?utm_source=news&i=" + std::to_string(i);
  e.hostname = "example.com";
  if (i % 2 == 0) {
    e.referrer = "https://news.example.org/item?id=" + std::to_string(i);
    e.referrerHost = "news.example.org";
  }
  e.sessionId = "s" + std::to_string(i / 4);
  e.visitorId = -4'000'000'000'000'000'000LL + i * 1'000'003LL;
  e.userAgent =
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0 Safari/537.36";
  e.browser = "Chrome";
  e.os = "Linux";
  e.device = i % 4 == 0 ? "mobile" : "desktop";
  if (i % 5 != 0) e.country = "DE";
  if (i % 7 != 0) e.ip = i % 2 == 0 ? "203.0.113.0" : "2001:db8:85a3::";
  if (i % 3 == 0) e.props = R"({"plan":"pro","seats":)" + std::to_string(i) + R"(,"trial":true})";
  return e;
}

// makeEvent(from) … makeEvent(to - 1).
std::vector<events::Event> makeEvents(int from, int to) {
  std::vector<events::Event> out;
  out.reserve(static_cast<std::size_t>(to - from));
  for (int i = from; i < to; ++i) out.push_back(makeEvent(i));
  return out;
}

// Events whose text needs every COPY escape, NULLs, non-ASCII text and edge timestamps.
std::vector<events::Event> awkwardEvents() {
  std::vector<events::Event> out;
  events::Event e = makeEvent(1);
  e.url = "https://example.com/a\tb\nc\rd\\e?q=\\N&x=\\.";
  e.page = "/a\\b\tc";
  e.referrer = "\\N";  // the text, not NULL
  e.referrerHost = "\\.";
  e.userAgent = "Agent \"quoted\" — ünïcödé 日本語 🙂\n2nd line";
  e.props = R"({"tab":"a\tb","nl":"x\ny","bs":"back\\slash","u":"日本語 🙂","q":"\"q\""})";
  e.tsMillis = 1'700'000'000'123;
  out.push_back(e);

  e = makeEvent(2);
  e.referrer.clear();
  e.referrerHost.clear();
  e.country.clear();
  e.ip.clear();
  e.props.clear();
  e.tsMillis = 0;
  out.push_back(e);

  for (const std::int64_t ts : {std::int64_t{1}, std::int64_t{999}, std::int64_t{-1},
                                std::int64_t{951'782'400'001}, std::int64_t{253'402'300'799'999}}) {
    e = makeEvent(static_cast<int>(out.size()));
    e.tsMillis = ts;
    out.push_back(e);
  }
  return out;
}

// An event as stored, read back into the queued form (NULL as "").
std::map<std::string, events::Event> storedEvents(db::Connection& conn) {
  const db::Result r = conn.exec(
      "SELECT id, website_id, (extract(epoch FROM ts) * 1000)::bigint AS ms, event_type, page, "
      "url, hostname, referrer, referrer_host, session_id, visitor_id, user_agent, browser, os, "
      "device, country, ip, props FROM events");
  std::map<std::string, events::Event> out;
  for (int row = 0; row < r.rows(); ++row) {
    events::Event e;
    e.id = r.get(row, "id");
    e.websiteId = r.get(row, "website_id");
    e.tsMillis = r.getInt(row, "ms");
    e.eventType = r.get(row, "event_type");
    e.page = r.get(row, "page");
    e.url = r.get(row, "url");
    e.hostname = r.get(row, "hostname");
    e.referrer = r.get(row, "referrer");
    e.referrerHost = r.get(row, "referrer_host");
    e.sessionId = r.get(row, "session_id");
    e.visitorId = r.getInt(row, "visitor_id");
    e.userAgent = r.get(row, "user_agent");
    e.browser = r.get(row, "browser");
    e.os = r.get(row, "os");
    e.device = r.get(row, "device");
    e.country = r.get(row, "country");
    e.ip = r.get(row, "ip");
    e.props = r.get(row, "props");
    out.emplace(e.id, e);
  }
  return out;
}

// jsonb normalises spacing and key order: compare props as JSON, the rest as text.
void expectSameEvent(const events::Event& stored, const events::Event& sent) {
  events::Event a = stored;
  events::Event b = sent;
  if (a.props.empty() || b.props.empty()) {
    EXPECT_EQ(a.props, b.props) << sent.id;
  } else {
    EXPECT_EQ(nlohmann::json::parse(a.props), nlohmann::json::parse(b.props)) << sent.id;
  }
  a.props.clear();
  b.props.clear();
  EXPECT_EQ(a, b) << "event " << sent.id << " as stored: " << events::toQueueJson(stored);
}

bool waitFor(const std::function<bool()>& done, std::chrono::milliseconds limit = 20s) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

class IngestWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db::Migrator(conn_).migrate();
    addSites(conn_);
    config_.ingest.batchSize = 2000;
    config_.ingest.flushInterval = 200ms;
    config_.ingest.writers = 1;
  }

  // The websites of makeEvent()'s events: the writers store only events of websites that exist.
  static void addSites(db::Connection& conn) {
    const std::string owner = test::seed::owner(conn);
    conn.execArgs(
        "INSERT INTO websites (id, user_id, name, domain) VALUES ($1, $3, 'A', 'a.example'), "
        "($2, $3, 'B', 'b.example')",
        kSiteA, kSiteB, owner);
  }

  std::int64_t rows(const std::string& table = "events") {
    return conn_.exec("SELECT count(*) FROM " + table).getInt(0, 0);
  }

  redis::Client client() { return redis::Client(redis::Url::parse(redis_.url()), 2s); }

  void enqueue(const std::vector<events::Event>& evs) {
    redis::Client c = client();
    std::vector<std::vector<std::string>> batch;
    for (const events::Event& e : evs) {
      batch.push_back({"XADD", kStream, "*", "e", events::toQueueJson(e)});
      if (batch.size() == 1000) {
        for (const auto& reply : c.pipeline(batch)) ASSERT_FALSE(reply.isError());
        batch.clear();
      }
    }
    for (const auto& reply : c.pipeline(batch)) ASSERT_FALSE(reply.isError());
  }

  // As the tracker queues them: entries of `perEntry` events, one queue JSON object per line.
  void enqueueEntries(const std::vector<events::Event>& evs, std::size_t perEntry) {
    redis::Client c = client();
    std::vector<std::vector<std::string>> batch;
    for (std::size_t i = 0; i < evs.size(); i += perEntry) {
      std::string lines;
      for (std::size_t j = i; j < std::min(evs.size(), i + perEntry); ++j) {
        if (j > i) lines.push_back('\n');
        lines += events::toQueueJson(evs[j]);
      }
      batch.push_back({"XADD", kStream, "*", "b", lines});
    }
    for (const auto& reply : c.pipeline(batch)) ASSERT_FALSE(reply.isError());
  }

  std::int64_t xlen() {
    redis::Client c = client();
    return queueLength(c);
  }
  std::int64_t xpending() {
    redis::Client c = client();
    return consumerLag(c);
  }

  // Short timings so crash and outage tests finish in seconds.
  static QueueWriterOptions fastOptions() {
    QueueWriterOptions o;
    o.claimIdle = 1000ms;
    o.claimInterval = 300ms;
    o.backoffMin = 50ms;
    o.backoffMax = 400ms;
    return o;
  }

  std::unique_ptr<QueueWriter> writer(QueueWriterOptions options = fastOptions()) {
    return std::make_unique<QueueWriter>(config_, pool_, redis::Url::parse(redis_.url()), "test",
                                         options);
  }

  test::TempDatabase db_;
  db::Connection conn_{db_.url(), 10s};
  db::Pool pool_{db_.url(), 4, 10s};
  test::RedisProcess redis_;
  config::Config config_ = config::Config::defaults();
};

// ---- EventStore ----

TEST_F(IngestWriterTest, InsertBatchRoundTripsEveryFieldToTheMillisecond) {
  // A session far from UTC must not shift any timestamp.
  conn_.exec("SET TimeZone = 'Pacific/Chatham'");
  const auto sent = awkwardEvents();
  EXPECT_EQ(EventStore::insertBatch(conn_, sent), sent.size());
  EXPECT_FALSE(conn_.inTransaction());

  const auto stored = storedEvents(conn_);
  ASSERT_EQ(stored.size(), sent.size());
  for (const events::Event& e : sent) {
    ASSERT_EQ(stored.count(e.id), 1u) << e.id;
    expectSameEvent(stored.at(e.id), e);
  }
  // Empty optional fields are NULL, not ''; "\N" as text is not NULL.
  EXPECT_EQ(conn_
                .execArgs("SELECT referrer IS NULL AND referrer_host IS NULL AND country IS NULL "
                          "AND ip IS NULL AND props IS NULL FROM events WHERE id = $1",
                          sent[1].id)
                .getBool(0, 0),
            true);
  EXPECT_EQ(conn_.execArgs("SELECT referrer FROM events WHERE id = $1", sent[0].id).get(0, 0),
            "\\N");
  EXPECT_EQ(conn_
                .execArgs("SELECT ts = '2023-11-14T22:13:20.123Z'::timestamptz FROM events "
                          "WHERE id = $1",
                          sent[0].id)
                .getBool(0, 0),
            true);
  EXPECT_EQ(conn_.execArgs("SELECT props->>'tab' FROM events WHERE id = $1", sent[0].id).get(0, 0),
            "a\tb");
}

TEST_F(IngestWriterTest, ARedeliveredEventIsStoredOnce) {
  std::vector<events::Event> evs = makeEvents(0, 500);
  EXPECT_EQ(EventStore::insertBatch(conn_, evs), 500u);
  EXPECT_EQ(EventStore::insertBatch(conn_, evs), 0u);
  // Duplicates within one batch too, mixed with new events.
  std::vector<events::Event> mixed = {evs[0], evs[0], makeEvent(900), makeEvent(901), evs[1]};
  mixed.push_back(mixed[2]);
  EXPECT_EQ(EventStore::insertBatch(conn_, mixed), 2u);
  EXPECT_EQ(rows(), 502);
}

TEST_F(IngestWriterTest, RefusedDataFailsTheBatchButIsolationStoresTheRest) {
  std::vector<events::Event> evs = makeEvents(0, 100);
  evs[17].ip = "999.1.2.3";
  evs[80].props = "{not json";
  try {
    EventStore::insertBatch(conn_, evs);
    ADD_FAILURE() << "a batch with invalid data was accepted";
  } catch (const DbError& e) {
    EXPECT_TRUE(isDataError(e)) << e.sqlstate() << " " << e.what();
  }
  // Rolled back, and the connection is fit for the next batch.
  EXPECT_FALSE(conn_.inTransaction());
  EXPECT_EQ(rows(), 0);

  const IsolatedInsert out = EventStore::insertIsolating(conn_, evs);
  EXPECT_EQ(out.inserted, 98u);
  EXPECT_EQ(out.rejected, (std::vector<std::size_t>{17, 80}));
  EXPECT_NE(out.firstRejection.find("inet"), std::string::npos) << out.firstRejection;
  EXPECT_EQ(rows(), 98);
}

TEST_F(IngestWriterTest, InsertRateOfTwoThousandEventBatches) {
  constexpr int kBatches = 25;
  constexpr int kBatchSize = 2000;
  std::vector<std::vector<events::Event>> batches(kBatches);
  for (int b = 0; b < kBatches; ++b) {
    batches[b] = makeEvents(b * kBatchSize, (b + 1) * kBatchSize);
  }
  // Warm-up: the staging table and plans, outside the measurement.
  EXPECT_EQ(EventStore::insertBatch(conn_, std::vector<events::Event>{makeEvent(-1)}), 1u);
  std::vector<double> ms;
  const auto start = Clock::now();
  for (const auto& batch : batches) {
    const auto t0 = Clock::now();
    EXPECT_EQ(EventStore::insertBatch(conn_, batch), batch.size());
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(rows(), kBatches * kBatchSize + 1);
  std::sort(ms.begin(), ms.end());
  const double rate = kBatches * kBatchSize / seconds;
  std::printf(
      "EventStore::insertBatch: %d x %d rows in %.2f s = %.0f rows/s; batch p50 %.1f ms, "
      "max %.1f ms\n",
      kBatches, kBatchSize, seconds, rate, ms[ms.size() / 2], ms.back());
  RecordProperty("rows_per_second", static_cast<int>(rate));
  // Far below what COPY does on any machine; catches a fall back to row-at-a-time speeds.
  EXPECT_GT(rate, 5000.0);
}

// ---- QueueWriter ----

TEST_F(IngestWriterTest, DrainsTheQueueAndEveryFieldRoundTrips) {
  std::vector<events::Event> sent = awkwardEvents();
  const auto rest = makeEvents(static_cast<int>(sent.size()), 5000);
  sent.insert(sent.end(), rest.begin(), rest.end());
  enqueue(sent);
  ASSERT_EQ(xlen(), 5000);

  auto w = writer();
  const auto start = Clock::now();
  w->start();
  ASSERT_TRUE(waitFor([&] { return xlen() == 0; })) << "left: " << xlen();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("QueueWriter drained 5000 events in %.2f s (%.0f events/s)\n", seconds,
              5000 / seconds);
  EXPECT_EQ(rows(), 5000);
  EXPECT_EQ(xpending(), 0);
  EXPECT_EQ(w->stats().eventsWritten.load(), 5000u);
  EXPECT_EQ(w->stats().eventsDuplicated.load(), 0u);
  EXPECT_EQ(w->stats().batchSize.count(), w->stats().batchesWritten.load());
  EXPECT_GE(w->stats().batchesWritten.load(), 3u);  // at most 2000 per batch

  const auto stored = storedEvents(conn_);
  ASSERT_EQ(stored.size(), 5000u);
  for (const events::Event& e : sent) {
    ASSERT_EQ(stored.count(e.id), 1u) << e.id;
    expectSameEvent(stored.at(e.id), e);
  }

  const auto stopStart = Clock::now();
  w->stop();
  EXPECT_LT(Clock::now() - stopStart, 2s);
}

TEST_F(IngestWriterTest, TwoDaemonsWithSeveralThreadsEachShareTheQueue) {
  config_.ingest.writers = 3;
  config_.ingest.batchSize = 250;
  auto a = std::make_unique<QueueWriter>(config_, pool_, redis::Url::parse(redis_.url()), "a",
                                         fastOptions());
  auto b = std::make_unique<QueueWriter>(config_, pool_, redis::Url::parse(redis_.url()), "b",
                                         fastOptions());
  EXPECT_NE(a->consumerName(0), a->consumerName(1));
  EXPECT_NE(a->consumerName(0), b->consumerName(0));
  a->start();
  b->start();
  std::vector<events::Event> evs = makeEvents(0, 6000);
  // Enqueued while the writers run, in slices, as traffic arrives.
  for (std::size_t at = 0; at < evs.size(); at += 1000) {
    enqueue(std::vector<events::Event>(evs.begin() + static_cast<std::ptrdiff_t>(at),
                                       evs.begin() + static_cast<std::ptrdiff_t>(at + 1000)));
  }
  ASSERT_TRUE(waitFor([&] { return xlen() == 0; })) << "left: " << xlen();
  EXPECT_EQ(rows(), 6000);
  EXPECT_EQ(xpending(), 0);
  EXPECT_EQ(a->stats().eventsWritten.load() + b->stats().eventsWritten.load(), 6000u);
  EXPECT_EQ(a->stats().eventsDuplicated.load() + b->stats().eventsDuplicated.load(), 0u);
  const auto start = Clock::now();
  a->stop();
  b->stop();
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST_F(IngestWriterTest, RedeliveredEntriesAreCountedAsDuplicates) {
  std::vector<events::Event> evs = makeEvents(0, 200);
  enqueue(evs);
  enqueue(evs);
  auto w = writer();
  w->start();
  ASSERT_TRUE(waitFor([&] { return xlen() == 0; }));
  EXPECT_EQ(rows(), 200);
  EXPECT_EQ(w->stats().eventsWritten.load(), 200u);
  EXPECT_EQ(w->stats().eventsDuplicated.load(), 200u);
}

TEST_F(IngestWriterTest, NothingIsAcknowledgedWhilePostgresFailsAndAllIsWrittenAfter) {
  config_.ingest.batchSize = 300;
  auto w = writer();
  w->start();
  enqueue({makeEvent(0)});
  ASSERT_TRUE(waitFor([&] { return rows() == 1; }));

  conn_.exec("ALTER TABLE events RENAME TO events_x");
  std::vector<events::Event> evs = makeEvents(1, 1000 + 1);
  enqueue(evs);
  ASSERT_TRUE(waitFor([&] { return w->stats().writeErrors.load() >= 3; }));
  EXPECT_TRUE(w->stats().postgresDown.load());
  // Failing for a while: every event still queued, the batch in hand pending, none stored.
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(xlen(), 1000);
  EXPECT_GT(xpending(), 0);
  EXPECT_EQ(rows("events_x"), 1);

  conn_.exec("ALTER TABLE events_x RENAME TO events");
  ASSERT_TRUE(waitFor([&] { return xlen() == 0; })) << "left: " << xlen();
  EXPECT_EQ(rows(), 1001);
  EXPECT_EQ(xpending(), 0);
  EXPECT_FALSE(w->stats().postgresDown.load());
  EXPECT_EQ(w->stats().eventsWritten.load(), 1001u);
}

TEST_F(IngestWriterTest, WritesResumeWhenPostgresComesBackFromAShutdown) {
  test::PostgresProcess pg;
  const std::string url = pg.createDatabase("mp_ingest");
  {
    db::Connection setup(url, 10s);
    db::Migrator(setup).migrate();
    addSites(setup);
  }
  db::Pool pool(url, 2, 5s);
  const auto count = [&] {
    db::Connection c(url, 5s);
    return c.exec("SELECT count(*) FROM events").getInt(0, 0);
  };
  config_.ingest.batchSize = 250;
  QueueWriter w(config_, pool, redis::Url::parse(redis_.url()), "test", fastOptions());
  DirectWriter direct(config_, pool);
  w.start();
  std::vector<events::Event> evs = makeEvents(0, 1000);
  enqueue(std::vector<events::Event>(evs.begin(), evs.begin() + 300));
  ASSERT_TRUE(waitFor([&] { return xlen() == 0; }));
  EXPECT_TRUE(direct.write(makeEvent(5000), 5s));

  pg.stop();
  enqueue(std::vector<events::Event>(evs.begin() + 300, evs.end()));
  ASSERT_TRUE(waitFor([&] { return w.stats().postgresDown.load(); }, 5s));
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(xlen(), 700);
  const auto start = Clock::now();
  EXPECT_FALSE(direct.write(makeEvent(5001), 5s));
  EXPECT_LT(Clock::now() - start, 2s) << "a refused connection must fail fast";

  pg.start();
  ASSERT_TRUE(waitFor([&] { return xlen() == 0; })) << "left: " << xlen();
  EXPECT_EQ(xpending(), 0);
  EXPECT_EQ(count(), 1001);
  EXPECT_TRUE(direct.write(makeEvent(5002), 5s));
  EXPECT_EQ(count(), 1002);
  w.stop();
}

TEST_F(IngestWriterTest, EntriesOfACrashedConsumerAreClaimedAndWrittenOnce) {
  redis::Client c = client();
  ASSERT_FALSE(c.command({"XGROUP", "CREATE", kStream, kGroup, "0", "MKSTREAM"}).isError());
  std::vector<events::Event> orphans = makeEvents(0, 300);
  enqueue(orphans);
  // A consumer that reads a batch and dies before acknowledging it.
  const redis::Reply taken = c.command({"XREADGROUP", "GROUP", kGroup, "crashed-host-1-0", "COUNT",
                                        "1000", "STREAMS", kStream, ">"});
  ASSERT_TRUE(taken.isArray());
  ASSERT_EQ(taken.elements()[0].elements()[1].elements().size(), 300u);
  const auto crashedAt = Clock::now();

  QueueWriterOptions options = fastOptions();
  options.forgetIdle = 1500ms;
  auto w = writer(options);
  w->start();
  std::vector<events::Event> fresh = makeEvents(300, 350);
  enqueue(fresh);

  ASSERT_TRUE(waitFor([&] { return rows() == 50; }, 5s));
  if (Clock::now() - crashedAt < 900ms) {
    EXPECT_EQ(w->stats().claimed.load(), 0u) << "claimed before the entries were idle long enough";
  }
  ASSERT_TRUE(waitFor([&] { return xlen() == 0; }, 5s)) << "left: " << xlen();
  EXPECT_LT(Clock::now() - crashedAt, 5s);
  EXPECT_EQ(rows(), 350);
  EXPECT_EQ(xpending(), 0);
  EXPECT_EQ(w->stats().claimed.load(), 300u);
  EXPECT_EQ(w->stats().eventsDuplicated.load(), 0u);
  const auto stored = storedEvents(conn_);
  for (const events::Event& e : orphans) {
    ASSERT_EQ(stored.count(e.id), 1u) << e.id;
    expectSameEvent(stored.at(e.id), e);
  }

  // The dead consumer, with nothing pending any more, is removed from the group in time.
  const auto consumers = [&] {
    std::string names;
    const redis::Reply info = c.command({"XINFO", "CONSUMERS", kStream, kGroup});
    for (const redis::Reply& consumer : info.elements())
      names += consumer.elements()[1].str() + " ";
    return names;
  };
  EXPECT_TRUE(waitFor([&] { return consumers().find("crashed") == std::string::npos; }, 5s))
      << consumers();
  EXPECT_NE(consumers().find(w->consumerName(0)), std::string::npos);
}

TEST_F(IngestWriterTest, UndecodableAndRefusedEntriesDoNotBlockTheRest) {
  std::vector<events::Event> good = makeEvents(0, 200);
  enqueue(std::vector<events::Event>(good.begin(), good.begin() + 100));
  redis::Client c = client();
  ASSERT_FALSE(c.command({"XADD", kStream, "*", "e", "not json"}).isError());
  ASSERT_FALSE(c.command({"XADD", kStream, "*", "x", "no e field"}).isError());
  ASSERT_FALSE(
      c.command({"XADD", kStream, "*", "e", R"({"i":"lacks website and time"})"}).isError());
  events::Event refused = makeEvent(1000);
  refused.websiteId = "not-a-uuid";
  enqueue({refused});
  enqueue(std::vector<events::Event>(good.begin() + 100, good.end()));

  auto w = writer();
  w->start();
  ASSERT_TRUE(waitFor([&] { return xlen() == 0; })) << "left: " << xlen();
  EXPECT_EQ(rows(), 200);
  EXPECT_EQ(xpending(), 0);
  EXPECT_EQ(w->stats().undecodable.load(), 3u);
  EXPECT_EQ(w->stats().rejected.load(), 1u);
  EXPECT_EQ(w->stats().eventsWritten.load(), 200u);
}

TEST_F(IngestWriterTest, EntriesOfManyEventsAreWrittenWholeInBatchesOfAboutBatchSize) {
  // Single events and full entries mixed, as a site's traffic rises and falls.
  const auto sent = makeEvents(0, 6000);
  enqueueEntries(std::vector<events::Event>(sent.begin(), sent.begin() + 300), 1);
  enqueueEntries(std::vector<events::Event>(sent.begin() + 300, sent.begin() + 3000), 64);
  enqueueEntries(std::vector<events::Event>(sent.begin() + 3000, sent.begin() + 4000), 7);
  enqueueEntries(std::vector<events::Event>(sent.begin() + 4000, sent.end()), 64);
  // One entry whose second line is not an event: the other two lines are stored.
  const auto mixed = makeEvents(6000, 6002);
  redis::Client c = client();
  ASSERT_FALSE(
      c.command({"XADD", kStream, "*", "b",
                 events::toQueueJson(mixed[0]) + "\nnot json\n" + events::toQueueJson(mixed[1])})
          .isError());
  const std::int64_t entries = xlen();
  ASSERT_EQ(entries, 300 + 43 + 143 + 32 + 1);

  config_.ingest.batchSize = 500;
  auto w = writer();
  w->start();
  ASSERT_TRUE(waitFor([&] { return xlen() == 0; })) << "left: " << xlen();
  EXPECT_EQ(rows(), 6002);
  EXPECT_EQ(xpending(), 0);
  EXPECT_EQ(w->stats().eventsWritten.load(), 6002u);
  EXPECT_EQ(w->stats().undecodable.load(), 1u);
  // Read by whole entries, so a batch may pass batch_size while the reader learns how full
  // entries are, but never holds more than twice batch_size.
  EXPECT_GE(w->stats().batchesWritten.load(), 7u);
  const auto stored = storedEvents(conn_);
  for (const events::Event& e : sent) ASSERT_EQ(stored.count(e.id), 1u) << e.id;
  for (const events::Event& e : mixed) ASSERT_EQ(stored.count(e.id), 1u) << e.id;
}

TEST_F(IngestWriterTest, RecoversWhenRedisRestarts) {
  config_.ingest.batchSize = 100;
  auto w = writer();
  w->start();
  std::vector<events::Event> first = makeEvents(0, 500);
  enqueue(first);
  ASSERT_TRUE(waitFor([&] { return rows() == 500; }));

  redis_.stop();
  ASSERT_TRUE(waitFor([&] { return w->stats().redisDown.load(); }, 5s));
  std::this_thread::sleep_for(1s);  // a few failed attempts with back-off
  redis_.start();

  std::vector<events::Event> second = makeEvents(500, 1000);
  enqueue(second);
  ASSERT_TRUE(waitFor([&] { return xlen() == 0 && rows() == 1000; }))
      << "rows " << rows() << ", left " << xlen();
  EXPECT_EQ(xpending(), 0);
  EXPECT_TRUE(waitFor([&] { return !w->stats().redisDown.load(); }, 2s));
  const auto stopStart = Clock::now();
  w->stop();
  EXPECT_LT(Clock::now() - stopStart, 2s);
}

TEST_F(IngestWriterTest, HelpersReportAnEmptyQueueBeforeTheGroupExists) {
  EXPECT_EQ(xlen(), 0);
  EXPECT_EQ(xpending(), 0);
}

// ---- DirectWriter ----

TEST_F(IngestWriterTest, DirectWriterCommitsConcurrentWritesInSharedBatches) {
  DirectWriter direct(config_, pool_);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (direct.write(makeEvent(t * kPerThread + i), 5s)) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(rows(), kThreads * kPerThread);
  EXPECT_EQ(direct.stats().eventsWritten.load(), 1600u);
  EXPECT_LT(direct.stats().batchesWritten.load(), 1600u / 2);  // shared transactions
  std::printf("DirectWriter: 1600 events in %llu transactions\n",
              static_cast<unsigned long long>(direct.stats().batchesWritten.load()));

  // PostgreSQL refusing writes: false for everyone, and nothing half-written.
  conn_.exec("ALTER TABLE events RENAME TO events_x");
  std::atomic<int> accepted{0};
  threads.clear();
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        if (direct.write(makeEvent(5000 + t * 10 + i), 2s)) ++accepted;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 0);
  EXPECT_TRUE(direct.stats().postgresDown.load());
  EXPECT_GE(direct.stats().failed.load(), 20u);
  conn_.exec("ALTER TABLE events_x RENAME TO events");
  EXPECT_EQ(rows(), 1600);

  EXPECT_TRUE(direct.write(makeEvent(9999), 5s));
  EXPECT_EQ(rows(), 1601);
  EXPECT_FALSE(direct.stats().postgresDown.load());
}

TEST_F(IngestWriterTest, DirectWriterStopFailsWaitingCallers) {
  DirectWriterOptions options;
  options.gather = 10s;  // the event would wait long for company
  auto direct = std::make_unique<DirectWriter>(config_, pool_, options);
  std::atomic<int> result{-1};
  std::thread caller([&] { result = direct->write(makeEvent(1), 30s) ? 1 : 0; });
  std::this_thread::sleep_for(200ms);
  const auto start = Clock::now();
  direct->stop();
  caller.join();
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_EQ(result.load(), 0);
  EXPECT_FALSE(direct->write(makeEvent(2), 1s));
  EXPECT_EQ(rows(), 0);
}

TEST_F(IngestWriterTest, DirectWriterTimesOutWhileTheTableIsLocked) {
  DirectWriter direct(config_, pool_);
  db::Connection locker(db_.url(), 10s);
  locker.exec("BEGIN");
  locker.exec("LOCK TABLE events IN ACCESS EXCLUSIVE MODE");
  const auto start = Clock::now();
  EXPECT_FALSE(direct.write(makeEvent(1), 300ms));
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_EQ(direct.stats().timeouts.load(), 1u);
  locker.exec("ROLLBACK");
  // The batch in flight then commits: a late success, never a loss.
  EXPECT_TRUE(waitFor([&] { return rows() == 1; }, 5s));
}

}  // namespace
}  // namespace mp::ingest
