// One thread waits on a condition variable for the next due job, runs it on a pooled connection,
// logs and counts the outcome and computes when it runs again.
#include "scheduler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "aggregation/aggregator.hpp"
#include "db/connection.hpp"
#include "log/log.hpp"
#include "maintenance/jobs.hpp"
#include "maintenance/retention.hpp"
#include "util/error.hpp"
#include "util/sched.hpp"
#include "util/time.hpp"

namespace mp::daemon {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// "90s", "5m", "1h": how the configuration writes durations.
std::string durationText(milliseconds d) {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (d < std::chrono::seconds(1)) return fmt::format("{}ms", d.count());
  if (s % 3600 == 0) return fmt::format("{}h", s / 3600);
  if (s % 60 == 0) return fmt::format("{}m", s / 60);
  return fmt::format("{}s", s);
}

long long msSince(steady_clock::time_point started) {
  return std::chrono::duration_cast<milliseconds>(steady_clock::now() - started).count();
}

}  // namespace

ScheduleOptions ScheduleOptions::fromConfig(const config::Config& cfg) {
  ScheduleOptions o;
  o.aggregation = cfg.aggregation.enabled;
  o.aggregationInterval = cfg.aggregation.interval;
  o.refreshInterval = cfg.aggregation.refreshInterval;
  o.retentionDays = cfg.retention.days;
  return o;
}

Scheduler::Scheduler(db::Pool& pool, std::string databaseUrl, events::SaltStore& salts,
                     JobMetrics& metrics, ScheduleOptions options)
    : pool_(pool),
      databaseUrl_(std::move(databaseUrl)),
      salts_(salts),
      metrics_(metrics),
      options_(options),
      nudge_(std::make_shared<Nudge>()) {
  nudge_->target = this;
  // The order breaks ties between jobs due at once: partitions exist before anything else runs,
  // and a prune never runs before the fold due with it.
  jobs_.push_back({"partitions", "db", options_.dailyInterval, milliseconds(0), false, [this] {
                     return withConnection([this](db::Connection& c) { return partitionsJob(c); });
                   }});
  jobs_.push_back({"salts", "db", options_.saltInterval, milliseconds(0), false,
                   [this] { return saltsJob(); }});
  if (options_.aggregation) {
    // Skipped means another daemon or timer is folding the same days right now.
    jobs_.push_back(
        {"aggregation", "agg", options_.aggregationInterval, options_.firstRunDelay, false,
         [this] { return withConnection([this](db::Connection& c) { return foldJob(c); }); }});
    jobs_.push_back(
        {"visits", "agg", options_.refreshInterval, options_.refreshInterval, false,
         [this] { return withConnection([this](db::Connection& c) { return refreshJob(c); }); }});
  }
  if (options_.retentionDays > 0) {
    jobs_.push_back(
        {"retention", "db", options_.dailyInterval, options_.firstRunDelay, true,
         [this] { return withConnection([this](db::Connection& c) { return retentionJob(c); }); }});
  }
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lock(nudge_->mutex);
    nudge_->target = nullptr;
  }
  stop();
}

void Scheduler::start() {
  if (thread_.joinable() || stopping_) return;
  const auto now = steady_clock::now();
  for (auto& job : jobs_) {
    job.next = now + job.firstDelay;
    metrics_.declare(job.name);
  }
  // The refresh of every website is first due when the visits job's first run is.
  lastFullRefresh_ = now;
  log::get("main")->info(
      "scheduler: aggregation {}, partitions {} months ahead daily, retention {}, salts every {}",
      options_.aggregation ? fmt::format("every {} (first in {}), visits refreshed every {}",
                                         durationText(options_.aggregationInterval),
                                         durationText(options_.firstRunDelay),
                                         durationText(options_.refreshInterval))
                           : std::string("off (aggregation.enabled = false)"),
      options_.partitionMonthsAhead,
      options_.retentionDays > 0 ? fmt::format("{} days, daily", options_.retentionDays)
                                 : std::string("off (retention.days = 0)"),
      durationText(options_.saltInterval));
  thread_ = std::thread([this] {
    util::nameThread("mp-scheduler");
    util::preferThroughput();
    run();
  });
}

void Scheduler::stop() noexcept {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (!thread_.joinable()) return;
  cancelRunning();
  thread_.join();
}

void Scheduler::cancelRunning() {
  std::optional<db::Connection> canceller;
  std::unique_lock lock(runningMutex_);
  while (runningPid_ != 0) {
    // A cancel that arrives between two statements of a job is ignored by the server, so it is
    // sent again until the job gives its connection back.
    try {
      if (!canceller) canceller.emplace(databaseUrl_, std::chrono::seconds(2));
      canceller->execArgs("SELECT pg_cancel_backend($1)", runningPid_);
    } catch (const std::exception& e) {
      canceller.reset();
      log::get("main")->debug("scheduler: cancelling the running job: {}", e.what());
    }
    jobDone_.wait_for(lock, milliseconds(200));
  }
}

void Scheduler::refreshSoon(const std::string& websiteId) {
  if (!options_.aggregation) return;
  {
    std::lock_guard lock(mutex_);
    refreshWanted_ = true;
    refreshSites_.insert(websiteId);
  }
  wake_.notify_all();
}

std::function<void(const std::string&, std::int64_t)> Scheduler::refreshHook() {
  return [nudge = nudge_](const std::string& websiteId, std::int64_t) {
    std::lock_guard lock(nudge->mutex);
    if (nudge->target != nullptr) nudge->target->refreshSoon(websiteId);
  };
}

void Scheduler::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (refreshWanted_) {
      refreshWanted_ = false;
      for (auto& job : jobs_) {
        if (job.name != "visits") continue;
        const auto soonest = std::max(steady_clock::now(), job.finished + options_.refreshGap);
        job.next = std::min(job.next, soonest);
      }
    }
    // The first of the earliest: ties go by the order of jobs_.
    auto due = std::min_element(jobs_.begin(), jobs_.end(),
                                [](const Job& a, const Job& b) { return a.next < b.next; });
    if (due == jobs_.end()) {
      wake_.wait(lock, [this] { return stopping_.load(); });
      break;
    }
    if (due->next > steady_clock::now()) {
      wake_.wait_until(lock, due->next, [this] { return stopping_.load() || refreshWanted_; });
      continue;
    }
    lock.unlock();
    runJob(*due);
    lock.lock();
  }
}

void Scheduler::runJob(Job& job) {
  auto logger = log::get(job.logger);
  const auto started = steady_clock::now();
  JobMetrics::Outcome outcome = JobMetrics::Outcome::kOk;
  try {
    if (job.body() == JobResult::kSkipped) outcome = JobMetrics::Outcome::kSkipped;
  } catch (const std::exception& e) {
    outcome = JobMetrics::Outcome::kFailed;
    if (stopping_) {
      logger->info("{}: interrupted by shutdown; the next run redoes it", job.name);
    } else {
      logger->error("{} failed: {}; next attempt in {}", job.name, e.what(),
                    durationText(std::min(job.period, options_.retryDelay)));
    }
  }
  const auto finished = steady_clock::now();
  job.finished = finished;
  metrics_.record(job.name, outcome, std::chrono::duration<double>(finished - started).count());
  const bool retrySoon = outcome == JobMetrics::Outcome::kFailed ||
                         (outcome == JobMetrics::Outcome::kSkipped && job.retryWhenSkipped);
  job.next = finished + (retrySoon ? std::min(job.period, options_.retryDelay) : job.period);
}

Scheduler::JobResult Scheduler::withConnection(
    const std::function<JobResult(db::Connection&)>& fn) {
  auto lease = pool_.acquire(std::chrono::seconds(5));
  {
    std::lock_guard lock(runningMutex_);
    // stop() sets stopping_ before it looks for a running job: either it sees this one, or this
    // one sees stopping_.
    if (stopping_) throw Error("shutting down");
    runningPid_ = lease->backendPid();
  }
  struct Clear {
    Scheduler& s;
    ~Clear() {
      {
        std::lock_guard lock(s.runningMutex_);
        s.runningPid_ = 0;
      }
      s.jobDone_.notify_all();
    }
  } clear{*this};
  return fn(*lease);
}

Scheduler::JobResult Scheduler::foldJob(db::Connection& conn) {
  auto logger = log::get("agg");
  const auto started = steady_clock::now();
  const auto result = maintenance::foldRecent(conn, maintenance::LockWait::kSkip);
  if (!result) {
    logger->info("fold skipped: another run holds the fold lock");
    return JobResult::kSkipped;
  }
  logger->info("fold days={} events={} ms={}", result->days, result->events, msSince(started));
  return JobResult::kDone;
}

Scheduler::JobResult Scheduler::refreshJob(db::Connection& conn) {
  auto logger = log::get("agg");
  const auto started = steady_clock::now();
  std::vector<std::string> sites;
  {
    std::lock_guard lock(mutex_);
    sites.assign(refreshSites_.begin(), refreshSites_.end());
    refreshSites_.clear();
  }
  // Asked for by questions, and the refresh of every website not due yet: those websites only.
  const bool full = sites.empty() || started - lastFullRefresh_ >= options_.refreshInterval;
  if (full) sites.clear();
  std::optional<aggregation::RefreshResult> done;
  try {
    done = aggregation::tryRefreshVisits(conn, false, sites);
  } catch (...) {
    std::lock_guard lock(mutex_);
    refreshSites_.insert(sites.begin(), sites.end());  // still wanted at the retry
    throw;
  }
  if (!done) {
    std::lock_guard lock(mutex_);
    refreshSites_.insert(sites.begin(), sites.end());
    logger->debug("visits refresh skipped: a fold holds the fold lock");
    return JobResult::kSkipped;
  }
  if (full) lastFullRefresh_ = started;
  // Every minute: quiet unless something changed.
  if (done->days > 0 || done->conversionDays > 0) {
    logger->debug("visits refreshed websites={} days={} conversion_days={} ms={}",
                  full ? std::string("all") : std::to_string(sites.size()), done->days,
                  done->conversionDays, msSince(started));
  }
  return JobResult::kDone;
}

Scheduler::JobResult Scheduler::partitionsJob(db::Connection& conn) {
  auto logger = log::get("db");
  const auto states = maintenance::ensurePartitions(conn, options_.partitionMonthsAhead);
  std::string created;
  for (const auto& s : states) {
    if (s.created) created += (created.empty() ? "" : ",") + s.name;
  }
  if (created.empty()) {
    logger->debug("partitions months_ahead={} created=none", options_.partitionMonthsAhead);
  } else {
    logger->info("partitions months_ahead={} created={}", options_.partitionMonthsAhead, created);
  }
  return JobResult::kDone;
}

Scheduler::JobResult Scheduler::retentionJob(db::Connection& conn) {
  auto logger = log::get("db");
  const auto started = steady_clock::now();
  const auto cutoff = maintenance::retentionCutoff(options_.retentionDays, util::todayUtc());
  const auto report = maintenance::pruneEvents(conn, cutoff, false, maintenance::LockWait::kSkip);
  if (report.skipped) {
    logger->info("retention skipped: another prune or a fold holds its lock; next attempt in {}",
                 durationText(std::min(options_.dailyInterval, options_.retryDelay)));
    return JobResult::kSkipped;
  }
  logger->info(
      "retention before={} partitions_dropped={} events_deleted={} rollup_rows_deleted={} ms={}",
      util::formatDate(cutoff), report.partitionsDropped(), report.eventsRemoved(),
      report.rollupRowsDeleted(), msSince(started));
  return JobResult::kDone;
}

Scheduler::JobResult Scheduler::saltsJob() {
  const int pruned = salts_.prune();
  auto logger = log::get("db");
  if (pruned > 0) {
    logger->info("salts pruned={}", pruned);
  } else {
    logger->debug("salts pruned=0");
  }
  return JobResult::kDone;
}

}  // namespace mp::daemon
