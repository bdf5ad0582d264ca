// Scheduling hints for the daemon's own threads.
#pragma once

#include <thread>

namespace mp::util {

/// Marks the calling thread as throughput work (Linux SCHED_BATCH): it keeps its fair share of
/// CPU, but waking it up no longer preempts the thread running on that core. For the threads
/// that wake often while the HTTP workers are busy (the tracker's sender, the queue writers,
/// background jobs): on a loaded machine their wake-ups otherwise cut into the workers' time
/// slices, which shows as lower throughput and a longer latency tail. Unprivileged; returns
/// false (and changes nothing) where the system refuses it.
bool preferThroughput() noexcept;

/// Names the calling thread (at most 15 characters are kept) as `top -H`, `ps -L` and perf show
/// it: "mp-tracker", "mp-writer-0", "mp-live"…
void nameThread(const char* name) noexcept;

/// Names `thread` from the thread that started it: the name is there as soon as this returns,
/// before the thread itself has run (a daemon that reports ready has its threads named).
void nameThread(std::thread& thread, const char* name) noexcept;

}  // namespace mp::util
