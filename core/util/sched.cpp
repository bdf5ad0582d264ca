#include "util/sched.hpp"

#include <pthread.h>
#include <sched.h>

namespace mp::util {

bool preferThroughput() noexcept {
#ifdef SCHED_BATCH
  sched_param param{};
  return pthread_setschedparam(pthread_self(), SCHED_BATCH, &param) == 0;
#else
  return false;
#endif
}

}  // namespace mp::util
