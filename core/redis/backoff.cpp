// Back-off after Redis time-outs.
#include "redis/backoff.hpp"

#include <algorithm>

namespace mp::redis {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap) noexcept
    : initial_(initial), cap_(std::max(cap, initial)) {}

bool Backoff::admit() noexcept {
  if (!active_.load(std::memory_order_acquire)) return true;
  std::lock_guard lock(mutex_);
  if (delay_.count() == 0) return true;
  const auto now = Clock::now();
  if (now < until_) {
    shortCircuited_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // This caller probes; the others fail fast until it reports (or a whole cap has passed, should
  // a probe never report).
  until_ = now + cap_;
  return true;
}

void Backoff::report(bool timedOut) noexcept {
  if (!timedOut) {
    if (!active_.load(std::memory_order_acquire)) return;
    std::lock_guard lock(mutex_);
    delay_ = std::chrono::milliseconds(0);
    until_ = {};
    active_.store(false, std::memory_order_release);
    return;
  }
  timeouts_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  delay_ = delay_.count() == 0 ? initial_ : std::min(delay_ * 2, cap_);
  until_ = Clock::now() + delay_;
  active_.store(true, std::memory_order_release);
}

std::chrono::milliseconds Backoff::remaining() const noexcept {
  if (!active_.load(std::memory_order_acquire)) return std::chrono::milliseconds(0);
  std::lock_guard lock(mutex_);
  const auto left = until_ - Clock::now();
  return left.count() > 0 ? std::chrono::ceil<std::chrono::milliseconds>(left)
                          : std::chrono::milliseconds(0);
}

}  // namespace mp::redis
