// QueueWriter's threads: read a batch, commit it, acknowledge it; on failure back off and retry
// the same entries, so an outage of either side delays events but never loses one.
#include "ingest/queue_writer.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string_view>
#include <utility>

#include "ingest/queue_entry.hpp"
#include "log/log.hpp"
#include "redis/keys.hpp"
#include "util/error.hpp"
#include "util/sched.hpp"

namespace mp::ingest {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// An idle XREADGROUP returns after this long at most, so a quiet queue never keeps stop() waiting
// longer than that, whatever ingest.flush_interval_ms says.
constexpr std::chrono::milliseconds kMaxBlock = 1000ms;
// Used when the configuration has no Redis time-out (a blocked read must still end).
constexpr std::chrono::milliseconds kDefaultRedisTimeout = 2000ms;

const std::string kStream(redis::kIngestStream);
const std::string kGroup(redis::kIngestGroup);

std::string hostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

std::string millisText(std::chrono::milliseconds ms) {
  return std::to_string(ms.count());
}

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

bool startsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// One batch as read from the stream, split by what has to happen to each entry.
struct Batch {
  std::vector<events::Event> events;
  std::vector<std::size_t> eventEntry;  // index in entryIds of the entry holding events[i]
  std::vector<std::string> entryIds;    // entries holding events: acknowledged once they are in
  std::vector<std::string> goneIds;     // deleted from the stream but still pending: ack only
  std::vector<std::string> badIds;      // not an event: dropped
  std::string firstBadReason;
  std::size_t badEvents = 0;  // lines of good entries that are not an event: dropped
  std::string firstBadEvent;

  std::size_t entries() const { return entryIds.size() + goneIds.size() + badIds.size(); }

  void addBad(const std::string& id, std::string reason) {
    if (badIds.empty()) firstBadReason = std::move(reason);
    badIds.push_back(id);
  }

  // One stream entry, as ingest/queue_entry decodes it.
  void addEntry(const redis::Reply& entry) {
    DecodedEntry decoded = decodeQueueEntry(entry, events);
    switch (decoded.kind) {
      case DecodedEntry::Kind::kNotAnEntry:
        return;
      case DecodedEntry::Kind::kGone:
        goneIds.push_back(std::move(decoded.id));
        return;
      case DecodedEntry::Kind::kUndecodable:
        addBad(decoded.id, std::move(decoded.error));
        return;
      case DecodedEntry::Kind::kEvents:
        eventEntry.insert(eventEntry.end(), decoded.events, entryIds.size());
        entryIds.push_back(decoded.id);
        if (decoded.failed > 0) {
          if (badEvents == 0) firstBadEvent = decoded.id + ": " + decoded.error;
          badEvents += decoded.failed;
        }
        return;
    }
  }

  // An XREADGROUP answer: nil (timed out) or [[stream, [entry, …]]].
  void addStreams(const redis::Reply& reply) {
    if (reply.isNil()) return;
    for (const redis::Reply& stream : reply.elements()) {
      if (!stream.isArray() || stream.elements().size() < 2) continue;
      const redis::Reply& list = stream.elements()[1];
      if (!list.isArray()) continue;
      for (const redis::Reply& entry : list.elements()) addEntry(entry);
    }
  }
};

bool isNoGroup(const redis::Reply& reply) {
  return reply.isError() && startsWith(reply.str(), "NOGROUP");
}

QueueWriterOptions withDefaults(QueueWriterOptions options, const config::Config& config) {
  if (options.claimIdle <= 0ms) {
    options.claimIdle = config.ingest.claimIdle > 0s ? config.ingest.claimIdle : 30s;
  }
  options.backoffMin = std::max(options.backoffMin, 1ms);
  options.backoffMax = std::max(options.backoffMax, options.backoffMin);
  return options;
}

}  // namespace

// One writer thread's state: its consumer name, Redis connection and PostgreSQL lease.
class QueueWriter::Worker {
 public:
  Worker(QueueWriter& owner, int index)
      : owner_(owner),
        opts_(owner.options_),
        stats_(owner.stats_),
        index_(index),
        consumer_(owner.consumerName(index)),
        block_(std::clamp(owner.flushInterval_, 1ms, kMaxBlock)),
        // The reply to a blocked read comes after the block at the earliest.
        redis_(owner.redisUrl_, owner.redisTimeout_ + block_),
        log_(log::get("ingest")),
        nextClaim_(Clock::now()),
        backoff_(opts_.backoffMin) {}

  void run() noexcept {
    try {
      log_->debug("queue writer {} running", consumer_);
      while (!owner_.stopping()) {
        try {
          step();
          backoff_ = opts_.backoffMin;
          continue;
        } catch (const RedisError& e) {
          onRedisFailure(e.what());
        } catch (const DbError& e) {
          onDbFailure(e);
        } catch (const std::exception& e) {
          log_->error("queue writer {}: {}", consumer_, e.what());
        }
        if (!owner_.pause(backoff_)) break;
        backoff_ = std::min(backoff_ * 2, opts_.backoffMax);
      }
      log_->debug("queue writer {} stopped", consumer_);
    } catch (...) {
      try {
        log_->critical("queue writer {} ended by an unexpected failure", consumer_);
      } catch (...) {
      }
    }
  }

 private:
  void step() {
    ensureGroup();
    Batch batch;
    if (index_ == 0 && (claimCursor_ != "0-0" || Clock::now() >= nextClaim_)) {
      claimInto(batch);
      if (batch.entries() == 0) return;
    } else if (readPending_) {
      // Entries this consumer was given but has not acknowledged: a batch whose write failed, or
      // the work of an earlier process with the same consumer name. Oldest first, before new ones.
      if (!readInto(batch, "0", std::nullopt, entriesFor(owner_.batchSize_))) return;
      if (batch.entries() == 0) {
        readPending_ = false;
        markRedisUp();
        return;
      }
    } else {
      if (!readInto(batch, ">", block_, entriesFor(owner_.batchSize_))) return;
      markRedisUp();
      if (batch.entries() == 0) return;
      fillUp(batch);
    }
    markRedisUp();
    write(batch);
  }

  void ensureGroup() {
    if (groupReady_) return;
    // From 0, not $: whatever was queued before the group existed is written too.
    const redis::Reply reply =
        redis_.command({"XGROUP", "CREATE", kStream, kGroup, "0", "MKSTREAM"});
    if (reply.isError() && !startsWith(reply.str(), "BUSYGROUP")) {
      throw RedisError("XGROUP CREATE " + kStream + " " + kGroup + ": " + reply.str());
    }
    groupReady_ = true;
  }

  // False when the group has gone (Redis lost its data, or someone deleted the stream): it is
  // created again on the next step.
  bool readInto(Batch& batch, const char* from, std::optional<std::chrono::milliseconds> block,
                int count) {
    std::vector<std::string> args = {"XREADGROUP", "GROUP", kGroup,
                                     consumer_,    "COUNT", std::to_string(count)};
    if (block) {
      args.emplace_back("BLOCK");
      args.push_back(millisText(*block));
    }
    args.emplace_back("STREAMS");
    args.push_back(kStream);
    args.emplace_back(from);
    const redis::Reply reply = redis_.command(args);
    if (isNoGroup(reply)) {
      groupReady_ = false;
      return false;
    }
    if (reply.isError()) throw RedisError("XREADGROUP: " + reply.str());
    const std::size_t entries = batch.entries();
    const std::size_t events = batch.events.size();
    batch.addStreams(reply);
    learn(batch.entries() - entries, batch.events.size() - events);
    return true;
  }

  // How many entries to ask for to get about `events` events: entries hold 1 to
  // kEventsPerEntry events (fuller the busier the site), so the count follows a running mean.
  // Capped so that a read of full entries holds twice batch_size at most.
  int entriesFor(std::size_t events) const {
    const double wanted = std::floor(static_cast<double>(events) / eventsPerEntry_);
    const double cap =
        std::max(1.0, 2.0 * owner_.batchSize_ / static_cast<double>(kEventsPerEntry));
    return static_cast<int>(std::clamp(wanted, 1.0, cap));
  }

  void learn(std::size_t entries, std::size_t events) {
    if (entries == 0) return;
    const double mean =
        static_cast<double>(std::max<std::size_t>(events, 1)) / static_cast<double>(entries);
    eventsPerEntry_ =
        std::clamp(0.5 * eventsPerEntry_ + 0.5 * mean, 1.0, static_cast<double>(kEventsPerEntry));
  }

  // XREADGROUP answers as soon as one entry is there. Under a steady trickle that would commit
  // every few events on their own, each commit a WAL flush; waiting up to flush_interval_ms for
  // the batch to fill bounds the commit rate instead. It waits only once the stream has nothing
  // more to give: under load the batch fills at once. Kept well below claimIdle, or other
  // daemons would take the entries over while they wait here.
  void fillUp(Batch& batch) {
    const auto wanted = static_cast<std::size_t>(owner_.batchSize_);
    const auto wait = std::min(owner_.flushInterval_, opts_.claimIdle / 4);
    bool waited = false;
    // A few reads at most: entries of one event each may need more than one.
    for (int reads = 0; reads < 16 && batch.events.size() < wanted; ++reads) {
      const std::size_t before = batch.entries();
      if (!readInto(batch, ">", std::nullopt, entriesFor(wanted - batch.events.size()))) return;
      if (batch.entries() > before) continue;
      if (waited || wait <= 0ms || !owner_.pause(wait)) return;
      waited = true;
    }
  }

  // Takes over entries pending on any consumer for longer than claimIdle: their consumer is gone
  // (a crashed daemon), since a live one retries its pending entries every few seconds at most,
  // and each retry makes them fresh again.
  void claimInto(Batch& batch) {
    const redis::Reply reply =
        redis_.command({"XAUTOCLAIM", kStream, kGroup, consumer_, millisText(opts_.claimIdle),
                        claimCursor_, "COUNT", std::to_string(entriesFor(owner_.batchSize_))});
    if (isNoGroup(reply)) {
      groupReady_ = false;
      return;
    }
    if (reply.isError()) {
      // Redis before 6.2 has no XAUTOCLAIM: writing must go on without take-overs.
      if (!claimWarned_) {
        log_->warn(
            "queue writer {}: XAUTOCLAIM failed, entries of crashed daemons are not taken "
            "over: {}",
            consumer_, reply.str());
        claimWarned_ = true;
      }
      claimCursor_ = "0-0";
      nextClaim_ = Clock::now() + opts_.claimInterval;
      return;
    }
    // Redis 7: [next cursor, entries, ids deleted meanwhile (already dropped from the PEL)].
    const auto& parts = reply.elements();
    if (parts.size() < 2) throw RedisError("XAUTOCLAIM: unexpected reply " + reply.debugString());
    claimCursor_ = parts[0].str();
    if (parts[1].isArray()) {
      for (const redis::Reply& entry : parts[1].elements()) batch.addEntry(entry);
    }
    if (claimCursor_ == "0-0") {
      nextClaim_ = Clock::now() + opts_.claimInterval;
      forgetDeadConsumers();
    }
    markRedisUp();
    if (batch.entries() > 0) {
      stats_.claimed.fetch_add(batch.entries(), std::memory_order_relaxed);
      log_->info(
          "queue writer {} took over {} entries pending on other consumers for more than {} "
          "ms",
          consumer_, batch.entries(), opts_.claimIdle.count());
    }
  }

  // Every daemon start adds consumer names; the ones of daemons long gone, with nothing pending,
  // only clutter XINFO. A live consumer reads every second at most, so it is never this idle.
  void forgetDeadConsumers() {
    const redis::Reply reply = redis_.command({"XINFO", "CONSUMERS", kStream, kGroup});
    if (!reply.isArray()) return;
    for (const redis::Reply& info : reply.elements()) {
      if (!info.isArray()) continue;
      std::string name;
      std::int64_t pending = -1;
      std::int64_t idle = -1;
      std::int64_t inactive = -1;
      const auto& kv = info.elements();
      for (std::size_t i = 0; i + 1 < kv.size(); i += 2) {
        if (!kv[i].isString()) continue;
        const std::string& key = kv[i].str();
        if (key == "name" && kv[i + 1].isString()) name = kv[i + 1].str();
        if (key == "pending" && kv[i + 1].isInteger()) pending = kv[i + 1].integer();
        if (key == "idle" && kv[i + 1].isInteger()) idle = kv[i + 1].integer();
        // Redis 7.2+: time since the last successful read; "idle" then counts attempts too.
        if (key == "inactive" && kv[i + 1].isInteger()) inactive = kv[i + 1].integer();
      }
      const std::int64_t quiet = inactive >= 0 ? inactive : idle;
      if (name.empty() || pending != 0 || quiet < opts_.forgetIdle.count() ||
          startsWith(name, owner_.consumerBase_ + "-")) {
        continue;
      }
      const redis::Reply removed = redis_.command({"XGROUP", "DELCONSUMER", kStream, kGroup, name});
      if (!removed.isError()) {
        log_->info("removed consumer {} from {}: idle for {} s with nothing pending", name, kGroup,
                   quiet / 1000);
      }
    }
  }

  void write(Batch& batch) {
    if (!batch.badIds.empty()) {
      // Acknowledged now rather than with the batch: they can never be written, and if the
      // write fails they would be read, and reported, again with every retry.
      stats_.undecodable.fetch_add(batch.badIds.size(), std::memory_order_relaxed);
      log_->warn("dropped {} undecodable entries of {} (first {}: {})", batch.badIds.size(),
                 kStream, batch.badIds.front(), batch.firstBadReason);
      acknowledge(batch.badIds);
    }
    if (batch.badEvents > 0) {
      // Lines of an entry that also holds good events: dropped with it once those are stored.
      stats_.undecodable.fetch_add(batch.badEvents, std::memory_order_relaxed);
      log_->warn("dropping {} undecodable events of {} (first, entry {})", batch.badEvents, kStream,
                 batch.firstBadEvent);
    }
    if (batch.events.empty()) {
      if (!batch.goneIds.empty()) acknowledge(batch.goneIds);
      return;
    }

    const auto started = Clock::now();
    IsolatedInsert outcome;
    try {
      // A connection per batch, given back at once: held between batches, writer threads more
      // than the pool's connections would starve the others (and the stats API) for good.
      db::Pool::Lease lease = owner_.pool_.acquire(opts_.acquireWait);
      outcome = EventStore::insertIsolating(*lease, batch.events);
    } catch (const DbError&) {
      stats_.writeErrors.fetch_add(1, std::memory_order_relaxed);
      // Not acknowledged: the entries stay pending on this consumer and are read again with "0".
      readPending_ = true;
      throw;
    }
    stats_.recordBatch(batch.events.size(), outcome, Clock::now() - started);
    markDbUp();
    if (!outcome.rejected.empty()) {
      log_->warn("dropped {} events PostgreSQL refuses to store (first, entry {}: {})",
                 outcome.rejected.size(),
                 batch.entryIds[batch.eventEntry[outcome.rejected.front()]],
                 outcome.firstRejection);
    }

    std::vector<std::string> ids = std::move(batch.entryIds);
    ids.insert(ids.end(), batch.goneIds.begin(), batch.goneIds.end());
    // Should this fail, the entries stay pending and are written again: ON CONFLICT skips them.
    acknowledge(ids);
  }

  // XACK and XDEL in one MULTI: XLEN then counts exactly the entries not yet in PostgreSQL, and a
  // crash between the two cannot leave an acknowledged entry in the stream for ever.
  void acknowledge(const std::vector<std::string>& ids) {
    if (ids.empty()) return;
    std::vector<std::string> xack = {"XACK", kStream, kGroup};
    xack.insert(xack.end(), ids.begin(), ids.end());
    std::vector<std::string> xdel = {"XDEL", kStream};
    xdel.insert(xdel.end(), ids.begin(), ids.end());
    const auto replies = redis_.pipeline({{"MULTI"}, std::move(xack), std::move(xdel), {"EXEC"}});
    for (const redis::Reply& reply : replies) {
      if (reply.isError()) throw RedisError("acknowledging written entries: " + reply.str());
    }
    const redis::Reply& exec = replies.back();
    if (!exec.isArray())
      throw RedisError("acknowledging written entries: EXEC answered " + exec.debugString());
    for (const redis::Reply& reply : exec.elements()) {
      if (reply.isError()) throw RedisError("acknowledging written entries: " + reply.str());
    }
  }

  void onRedisFailure(const std::string& what) {
    // The connection was dropped by the client; the next step reconnects, checks the group (a
    // restarted Redis may have lost it) and first retries whatever is still pending.
    redis_.close();
    groupReady_ = false;
    readPending_ = true;
    if (!redisDownSince_) redisDownSince_ = Clock::now();
    if (!stats_.redisDown.exchange(true)) {
      log_->warn("ingest queue unreachable, queue writer retrying with back-off: {}", what);
    } else {
      log_->debug("queue writer {}: Redis still failing: {}", consumer_, what);
    }
  }

  void onDbFailure(const DbError& e) {
    if (!dbDownSince_) dbDownSince_ = Clock::now();
    if (!stats_.postgresDown.exchange(true)) {
      log_->warn(
          "writing events to PostgreSQL failed; they stay queued in Redis and are retried "
          "with back-off: {}",
          e.what());
    } else {
      log_->debug("queue writer {}: PostgreSQL still failing: {}", consumer_, e.what());
    }
  }

  void markRedisUp() {
    if (stats_.redisDown.load(std::memory_order_relaxed) && stats_.redisDown.exchange(false)) {
      log_->info("ingest queue reachable again after {:.1f} s",
                 redisDownSince_ ? seconds(Clock::now() - *redisDownSince_) : 0.0);
    }
    redisDownSince_.reset();
  }

  void markDbUp() {
    if (stats_.postgresDown.load(std::memory_order_relaxed) &&
        stats_.postgresDown.exchange(false)) {
      log_->info("writing events to PostgreSQL again after {:.1f} s",
                 dbDownSince_ ? seconds(Clock::now() - *dbDownSince_) : 0.0);
    }
    dbDownSince_.reset();
  }

  QueueWriter& owner_;
  const QueueWriterOptions& opts_;
  WriterStats& stats_;
  const int index_;
  const std::string consumer_;
  const std::chrono::milliseconds block_;
  redis::Client redis_;
  std::shared_ptr<spdlog::logger> log_;
  bool groupReady_ = false;
  bool readPending_ = true;  // a (re)started consumer may have work pending from before
  bool claimWarned_ = false;
  // Running mean of events per entry read; starts at the most, so a first read of a long queue
  // of full entries stays small.
  double eventsPerEntry_ = static_cast<double>(kEventsPerEntry);
  std::string claimCursor_ = "0-0";
  Clock::time_point nextClaim_;
  std::chrono::milliseconds backoff_;
  std::optional<Clock::time_point> redisDownSince_;
  std::optional<Clock::time_point> dbDownSince_;
};

QueueWriter::QueueWriter(const config::Config& config, db::Pool& pool, redis::Url redisUrl,
                         std::string consumerPrefix, QueueWriterOptions options)
    : batchSize_(std::max(1, config.ingest.batchSize)),
      flushInterval_(std::max(config.ingest.flushInterval, std::chrono::milliseconds(0))),
      writers_(std::max(1, config.ingest.writers)),
      redisTimeout_(config.redis.timeout > std::chrono::milliseconds(0) ? config.redis.timeout
                                                                        : kDefaultRedisTimeout),
      pool_(pool),
      redisUrl_(std::move(redisUrl)),
      consumerBase_(std::move(consumerPrefix) + "-" + hostName() + "-" + std::to_string(getpid())),
      options_(withDefaults(options, config)) {}

QueueWriter::~QueueWriter() {
  stop();
}

std::string QueueWriter::consumerName(int n) const {
  return consumerBase_ + "-" + std::to_string(n);
}

void QueueWriter::start() {
  std::lock_guard lock(mutex_);
  if (started_) return;
  started_ = true;
  for (int n = 0; n < writers_; ++n) {
    threads_.emplace_back([this, n] {
      util::nameThread(("mp-writer-" + std::to_string(n)).c_str());
      util::preferThroughput();
      try {
        Worker worker(*this, n);
        worker.run();
      } catch (...) {
        // Worker::run() catches everything; only its construction (out of memory) lands here.
      }
    });
  }
  log::get("ingest")->info("queue writer started: {} thread(s) as {}-0…, batches of up to {}",
                           writers_, consumerBase_, batchSize_);
}

void QueueWriter::stop() noexcept {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    threads.swap(threads_);
  }
  wake_.notify_all();
  for (std::thread& t : threads) {
    try {
      if (t.joinable()) t.join();
    } catch (...) {
    }
  }
}

bool QueueWriter::pause(std::chrono::milliseconds pause) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, pause, [this] { return stopping_.load(); });
}

bool QueueWriter::stopping() const noexcept {
  return stopping_.load();
}

std::int64_t queueLength(redis::Client& client) {
  const redis::Reply reply = client.command({"XLEN", kStream});
  reply.throwIfError();
  return reply.integer();
}

std::int64_t consumerLag(redis::Client& client) {
  const redis::Reply reply = client.command({"XPENDING", kStream, kGroup});
  if (isNoGroup(reply)) return 0;
  reply.throwIfError();
  // Summary form: [count, smallest id, greatest id, [[consumer, count], …]].
  return reply.elements().at(0).integer();
}

}  // namespace mp::ingest
