// Back-off after Redis time-outs, shared by the clients of one server: an unreachable Redis costs
// one time-out now and then rather than one per command.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

namespace mp::redis {

/// After a time-out, calls fail at once for `initial`, then twice as long after each further
/// time-out, up to `cap`; when a period runs out, one caller probes the server while the others
/// keep failing fast, and any answer (or a refused connection, which is cheap to learn again)
/// ends the back-off. Thread-safe; the cost while Redis answers is one atomic load per call.
class Backoff {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Backoff(std::chrono::milliseconds initial = std::chrono::milliseconds(500),
                   std::chrono::milliseconds cap = std::chrono::seconds(30)) noexcept;

  /// True when a call may go to the server now (always, unless backing off); false while backing
  /// off. When a period has run out, the first caller gets true and must report().
  bool admit() noexcept;
  /// Reports how a call that admit() let through ended: `timedOut` starts or lengthens the
  /// back-off, anything else ends it.
  void report(bool timedOut) noexcept;

  /// How long calls keep failing fast from now (zero when not backing off).
  std::chrono::milliseconds remaining() const noexcept;
  /// Time-outs reported so far (each cost a caller the full time-out).
  std::uint64_t timeouts() const noexcept { return timeouts_.load(std::memory_order_relaxed); }
  /// Calls refused at once by admit() so far.
  std::uint64_t shortCircuited() const noexcept {
    return shortCircuited_.load(std::memory_order_relaxed);
  }

 private:
  const std::chrono::milliseconds initial_;
  const std::chrono::milliseconds cap_;
  std::atomic<bool> active_{false};
  std::atomic<std::uint64_t> timeouts_{0};
  std::atomic<std::uint64_t> shortCircuited_{0};
  mutable std::mutex mutex_;
  Clock::time_point until_{};          // calls fail fast before this
  std::chrono::milliseconds delay_{};  // the current period; zero when not backing off
};

}  // namespace mp::redis
