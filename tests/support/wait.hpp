// Waiting in tests for what happens asynchronously (a message delivered over Redis pub/sub, a
// row written by another thread): polled until it holds or a deadline passes.
#pragma once

#include <chrono>
#include <thread>

namespace mp::test {

/// Calls `holds` every `step` until it returns true (then true) or `timeout` has passed (then
/// false, after one last call).
template <class Predicate>
bool eventually(Predicate&& holds, std::chrono::milliseconds timeout = std::chrono::seconds(2),
                std::chrono::milliseconds step = std::chrono::milliseconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (holds()) return true;
    std::this_thread::sleep_for(step);
  }
  return holds();
}

}  // namespace mp::test
