// Login throttling: an attempt counter per email and per client address in Redis, each living
// one window (auth.login_max_failures, auth.login_max_failures_per_address, auth.login_window).
#pragma once

#include <chrono>
#include <string>

namespace mp::redis {
class Pool;
}

namespace mp::auth {

struct LoginLimits {
  int maxFailures = 0;            ///< attempts per email and window
  int maxFailuresPerAddress = 0;  ///< attempts per client address and window
  std::chrono::seconds window{0};
};

/// The throttle of one login attempt. An attempt is counted before its password is checked, in
/// the same atomic step that checks both limits: attempts sent all at once cannot all get past
/// the limit to a bcrypt check, and an attempt refused counts nothing (the lock does not extend
/// itself).
class LoginThrottle {
 public:
  /// `email` as normalised for the lookup, `address` the client's.
  LoginThrottle(redis::Pool& redis, const LoginLimits& limits, const std::string& email,
                const std::string& address);

  /// Counts one attempt on both counters and answers 0, or, when either is at its limit, counts
  /// nothing and answers the seconds until that counter's window ends (at least 1). Redis being
  /// down lets the attempt through (logged, 0): locking every owner out during a Redis outage
  /// is the worse failure.
  long reserve();

  /// After a correct password: the email's counter starts over, and the address gets back the
  /// attempt reserve() counted (its counter is of failures). Redis being down is logged.
  void succeeded();

 private:
  redis::Pool& redis_;
  LoginLimits limits_;
  std::string emailKey_;
  std::string addressKey_;
};

}  // namespace mp::auth
