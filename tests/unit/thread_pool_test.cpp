// The blocking pool: stop() runs what was queued, refuses what comes after, and may be called
// again (Services::stop, then the destructor).
#include "util/thread_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace mp::util {
namespace {

using namespace std::chrono_literals;

TEST(ThreadPool, StopRunsWhatWasQueuedAndRefusesWhatComesAfter) {
  ThreadPool pool(2, 100, "mp-test-pool");
  std::atomic<int> done{0};
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(pool.submit([&done] {
      std::this_thread::sleep_for(5ms);
      ++done;
    }));
  }
  pool.stop();
  EXPECT_EQ(done.load(), 20) << "every queued task ran before stop() returned";
  EXPECT_FALSE(pool.submit([&done] { ++done; }));
  pool.stop();  // again, as the destructor will
  EXPECT_EQ(done.load(), 20);
}

}  // namespace
}  // namespace mp::util
