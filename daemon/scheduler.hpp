// The daemon's background jobs on one thread: the recent fold, partitions ahead, retention and
// salt pruning, each on its own period.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "db/pool.hpp"
#include "events/salts.hpp"
#include "metrics.hpp"

namespace mp::daemon {

/// When the background jobs run: fromConfig() gives the daemon's schedule, tests shorten it.
struct ScheduleOptions {
  /// Fold the days that are not final yet every aggregationInterval (aggregation.enabled).
  bool aggregation = true;
  std::chrono::milliseconds aggregationInterval{std::chrono::hours(1)};
  /// With aggregation: bring the stored visits of days not final up to date this often.
  std::chrono::milliseconds refreshInterval{std::chrono::minutes(1)};
  /// And when a question asks for it (refreshSoon()), no sooner than this after the last run.
  std::chrono::milliseconds refreshGap{std::chrono::milliseconds(250)};
  /// Prune events older than this many days, daily; 0 never prunes (retention.days).
  int retentionDays = 0;
  /// The events partitions of this month and this many ahead, ensured at start and daily.
  int partitionMonthsAhead = 3;
  /// Delay of the first fold and prune after start; partitions and salts run at once.
  std::chrono::milliseconds firstRunDelay{std::chrono::seconds(10)};
  /// Period of the partitions and retention jobs.
  std::chrono::milliseconds dailyInterval{std::chrono::hours(24)};
  /// Period of the salt pruning.
  std::chrono::milliseconds saltInterval{std::chrono::hours(1)};
  /// A job that failed (or a prune that found a lock taken) runs again after this, or after its
  /// period when that is shorter.
  std::chrono::milliseconds retryDelay{std::chrono::minutes(5)};

  /// The schedule the configuration asks for.
  static ScheduleOptions fromConfig(const config::Config& cfg);
};

/// Runs the jobs on a thread of its own, one at a time. Failures (PostgreSQL down) are logged,
/// counted in `metrics` and retried; they never end the thread. Every job is safe beside the same
/// job in other daemons, mpctl or a timer (advisory locks, idempotent statements).
class Scheduler {
 public:
  /// Jobs use connections of `pool`; `databaseUrl` is the same database, used by stop() alone to
  /// cancel a statement in flight. Starts nothing yet.
  Scheduler(db::Pool& pool, std::string databaseUrl, events::SaltStore& salts, JobMetrics& metrics,
            ScheduleOptions options);
  /// stop().
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// Starts the thread; the partitions and salts jobs run at once, the fold and prune after
  /// firstRunDelay. Calling it twice does nothing more.
  void start();
  /// Wakes the thread, cancels the statement of a job in progress (the job's transaction rolls
  /// back; the next run redoes its work) and joins. Never throws; safe to call twice.
  void stop() noexcept;
  /// Brings the refresh of `websiteId`'s stored visits forward (with aggregation): a question
  /// found many events written since they were last refreshed (stats::kLiveBacklogEvents), which
  /// every question until the next refresh would sessionise again. It runs now, or refreshGap
  /// after the last run, for the websites asked for meanwhile only (quicker than every website's
  /// under a heavy load); the refresh of every website stays due every refreshInterval.
  /// Thread-safe and quick.
  void refreshSoon(const std::string& websiteId);
  /// refreshSoon() as a callable for stats::setLiveBacklogHook(): it may outlive this scheduler,
  /// and then does nothing.
  std::function<void(const std::string&, std::int64_t)> refreshHook();

 private:
  enum class JobResult { kDone, kSkipped };
  struct Job {
    std::string name;
    std::string logger;
    std::chrono::milliseconds period;
    std::chrono::milliseconds firstDelay;
    bool retryWhenSkipped;
    std::function<JobResult()> body;  // logs its own line, throws on failure
    std::chrono::steady_clock::time_point next{};
    std::chrono::steady_clock::time_point finished{};  // of the last run
  };

  void run();
  void runJob(Job& job);
  /// Runs `fn` on a pool connection that stop() may cancel.
  JobResult withConnection(const std::function<JobResult(db::Connection&)>& fn);
  void cancelRunning();

  JobResult foldJob(db::Connection& conn);
  JobResult refreshJob(db::Connection& conn);
  JobResult partitionsJob(db::Connection& conn);
  JobResult retentionJob(db::Connection& conn);
  JobResult saltsJob();

  db::Pool& pool_;
  std::string databaseUrl_;
  events::SaltStore& salts_;
  JobMetrics& metrics_;
  ScheduleOptions options_;
  std::vector<Job> jobs_;  // used by the scheduler thread only, once started

  // What refreshHook()'s callables reach: this scheduler until it is destroyed.
  struct Nudge {
    std::mutex mutex;
    Scheduler* target = nullptr;
  };
  std::shared_ptr<Nudge> nudge_;

  std::mutex mutex_;  // guards the wait on wake_, refreshWanted_ and refreshSites_
  std::condition_variable wake_;
  bool refreshWanted_ = false;
  std::set<std::string> refreshSites_;  // asked for by questions since the last visits run
  // Scheduler thread only (once started): when the visits job last refreshed every website, or
  // was started.
  std::chrono::steady_clock::time_point lastFullRefresh_{};
  std::atomic<bool> stopping_{false};
  std::thread thread_;

  // The backend of the job in progress (0: none). Cleared only after a cancel sent under
  // runningMutex_ has arrived, so a cancel never reaches a connection back in the pool.
  std::mutex runningMutex_;
  std::condition_variable jobDone_;
  int runningPid_ = 0;
};

}  // namespace mp::daemon
