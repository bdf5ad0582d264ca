// Four sending threads and a polling check against PostgreSQL.
#include "support/burst.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "db/connection.hpp"
#include "support/http.hpp"
#include "support/tracking.hpp"

namespace mp::test {

using namespace std::chrono_literals;

std::vector<long> trackBurst(const std::vector<std::string>& baseUrls, const std::string& site,
                             int events, const std::function<void()>& during) {
  std::vector<long> status(static_cast<std::size_t>(events), 0);
  std::atomic<int> sent{0};
  auto burst = [&](int worker) {
    for (int i = worker; i < events; i += 4) {
      const auto& base = baseUrls[static_cast<std::size_t>(i) % baseUrls.size()];
      auto r = httpRequest(
          "POST", base + "/track",
          nlohmann::json{{"websiteId", site}, {"url", "https://example.com/e/" + std::to_string(i)}}
              .dump(),
          {"Content-Type: application/json", std::string("User-Agent: ") + kChromeWindows}, 5000);
      status[static_cast<std::size_t>(i)] = r.status;
      ++sent;
      std::this_thread::sleep_for(4ms);
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) workers.emplace_back(burst, w);
  while (sent < events / 4) std::this_thread::sleep_for(5ms);
  during();
  for (auto& t : workers) t.join();
  return status;
}

void expectStoredOnce(const std::string& dbUrl, const std::vector<long>& status,
                      std::chrono::seconds timeout) {
  std::map<std::string, long> stored;
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    stored.clear();
    try {
      db::Connection conn(dbUrl, 5s);
      auto rows = conn.exec("SELECT page, count(*) FROM events GROUP BY page");
      for (int r = 0; r < rows.rows(); ++r) stored[std::string(rows.get(r, 0))] = rows.getInt(r, 1);
    } catch (const std::exception&) {
    }
    bool complete = true;
    for (std::size_t e = 0; e < status.size() && complete; ++e) {
      if (status[e] == 202 && !stored.count("/e/" + std::to_string(e))) complete = false;
    }
    if (complete || std::chrono::steady_clock::now() > until) break;
    std::this_thread::sleep_for(200ms);
  }
  for (std::size_t e = 0; e < status.size(); ++e) {
    const std::string page = "/e/" + std::to_string(e);
    if (status[e] == 202) {
      EXPECT_EQ(stored[page], 1) << page << " was answered 202";
    } else {
      EXPECT_LE(stored[page], 1) << page;
    }
  }
}

}  // namespace mp::test
