// A burst of tracking against one or more daemons while something fails, and the check that
// every event answered 202 is stored exactly once (the failover and fleet tests).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace mp::test {

/// Tracks `events` page views (page /e/<i>) by four threads, 4 ms apart each, event i to
/// baseUrls[i % n] + "/track"; `during` is called once a quarter of them is sent. Returns each
/// event's status (0 when no answer came).
std::vector<long> trackBurst(const std::vector<std::string>& baseUrls, const std::string& site,
                             int events, const std::function<void()>& during);

/// Waits up to `timeout` until every event answered 202 is in the events table of `dbUrl`, then
/// expects each exactly once, and the others at most once.
void expectStoredOnce(const std::string& dbUrl, const std::vector<long>& status,
                      std::chrono::seconds timeout);

}  // namespace mp::test
