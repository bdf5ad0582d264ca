#include "util/sched.hpp"

#include <pthread.h>
#include <sched.h>

#include <cstring>

namespace mp::util {

bool preferThroughput() noexcept {
#ifdef SCHED_BATCH
  sched_param param{};
  return pthread_setschedparam(pthread_self(), SCHED_BATCH, &param) == 0;
#else
  return false;
#endif
}

bool preferLatency() noexcept {
  sched_param param{};
  return pthread_setschedparam(pthread_self(), SCHED_OTHER, &param) == 0;
}

BatchSizePolicy::Change BatchSizePolicy::observe(std::size_t batchSize) noexcept {
  if (batchSize >= busy_) {
    quietRun_ = 0;
    if (throughput_) return Change::None;
    throughput_ = true;
    return Change::ToThroughput;
  }
  if (!throughput_) return Change::None;
  if (batchSize > quiet_) {
    quietRun_ = 0;
    return Change::None;
  }
  if (++quietRun_ < quietRounds_) return Change::None;
  quietRun_ = 0;
  throughput_ = false;
  return Change::ToLatency;
}

namespace {

void nameHandle(pthread_t handle, const char* name) noexcept {
  // The kernel keeps 15 bytes and refuses a longer name outright.
  char shortName[16] = {};
  std::strncpy(shortName, name, sizeof shortName - 1);
  pthread_setname_np(handle, shortName);
}

}  // namespace

void nameThread(const char* name) noexcept {
  nameHandle(pthread_self(), name);
}

void nameThread(std::thread& thread, const char* name) noexcept {
  if (thread.joinable()) nameHandle(thread.native_handle(), name);
}

}  // namespace mp::util
