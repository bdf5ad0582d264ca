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

void nameThread(const char* name) noexcept {
  // The kernel keeps 15 bytes and refuses a longer name outright.
  char shortName[16] = {};
  std::strncpy(shortName, name, sizeof shortName - 1);
  pthread_setname_np(pthread_self(), shortName);
}

}  // namespace mp::util
