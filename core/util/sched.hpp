// Scheduling hints for the daemon's own threads.
#pragma once

#include <cstddef>
#include <thread>

namespace mp::util {

/// Marks the calling thread as throughput work (Linux SCHED_BATCH): it keeps its fair share of
/// CPU, but waking it up no longer preempts the thread running on that core. For the threads
/// that wake often while the HTTP workers are busy (the tracker's sender, the queue writers,
/// background jobs): on a loaded machine their wake-ups otherwise cut into the workers' time
/// slices, which shows as lower throughput and a longer latency tail. Unprivileged; returns
/// false (and changes nothing) where the system refuses it.
bool preferThroughput() noexcept;

/// Returns the calling thread to the default policy (SCHED_OTHER): its wake-ups preempt again.
/// Returns false (and changes nothing) where the system refuses it.
bool preferLatency() noexcept;

/// When a thread that sends what others hand it in batches should run as throughput work.
/// Such a thread is on every request's path: at a light load each batch holds one or two
/// requests, and a wake-up that waits for the running thread's time slice is the request's
/// whole delay; once the batches grow, the machine is saturated and wake-ups that preempt the
/// threads filling the batches cost more than they save. So: throughput work as soon as a batch
/// holds `busy` or more, latency work again after `quietRounds` batches in a row of at most
/// `quiet` (the gap between the two keeps it from switching at every other batch).
class BatchSizePolicy {
 public:
  enum class Change { None, ToThroughput, ToLatency };
  BatchSizePolicy(std::size_t busy = 8, std::size_t quiet = 2,
                  std::size_t quietRounds = 256) noexcept
      : busy_(busy), quiet_(quiet), quietRounds_(quietRounds) {}
  /// Takes the size of the batch about to be sent; says how the thread's policy should change.
  Change observe(std::size_t batchSize) noexcept;
  bool throughput() const noexcept { return throughput_; }

 private:
  std::size_t busy_;
  std::size_t quiet_;
  std::size_t quietRounds_;
  std::size_t quietRun_ = 0;
  bool throughput_ = false;
};

/// Names the calling thread (at most 15 characters are kept) as `top -H`, `ps -L` and perf show
/// it: "mp-tracker", "mp-writer-0", "mp-live"…
void nameThread(const char* name) noexcept;

/// Names `thread` from the thread that started it: the name is there as soon as this returns,
/// before the thread itself has run (a daemon that reports ready has its threads named).
void nameThread(std::thread& thread, const char* name) noexcept;

}  // namespace mp::util
