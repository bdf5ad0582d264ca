// Micro-benchmark of UserAgentParser: cached hits, cold parses, and hits from several threads.
//
// Not part of the default build: add_subdirectory(ua) from a bench CMake target (it links
// mp_core), or by hand from the repository root:
//   g++ -std=c++20 -O2 -Icore bench/ua/ua_bench.cpp core/events/user_agent.cpp
//       core/log/log.cpp -lre2 -lyaml-cpp -lspdlog -lfmt -pthread -o /tmp/ua_bench
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "events/user_agent.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double microsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// Today's common browsers; version numbers vary so that every generated string is new.
std::vector<std::string> realisticAgents(int count) {
  const char* const templates[] = {
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.%d.%d Safari/537.36",
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
      "Version/17.%d.%d Safari/605.1.15",
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_%d_%d like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
      "like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
      "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.%d.%d Mobile Safari/537.36",
      "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.%d) Gecko/20100101 Firefox/121.%d",
      "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
      "SamsungBrowser/23.%d Chrome/115.0.0.%d Mobile Safari/537.36",
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.%d.%d",
      "Mozilla/5.0 (compatible; Googlebot/2.%d; +http://www.google.com/bot.html) %d",
  };
  std::vector<std::string> out;
  char buffer[512];
  for (int i = 0; i < count; ++i) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"  // the templates are the constants above
    std::snprintf(buffer, sizeof buffer, templates[i % 8], i / 8, i % 97);
#pragma GCC diagnostic pop
    out.emplace_back(buffer);
  }
  return out;
}

}  // namespace

int main() {
  using mp::events::UserAgentParser;

  auto start = Clock::now();
  const UserAgentParser uncached(mp::events::kDefaultRegexesPath, 0);
  std::printf("construct (load + compile %zu rules): %.0f ms\n", uncached.ruleCount(),
              microsSince(start) / 1000);

  // Cold: every string new to the parser (the first ones also build RE2's lazy DFAs).
  const auto cold = realisticAgents(4000);
  start = Clock::now();
  for (std::size_t i = 0; i < 1000; ++i) uncached.parse(cold[i]);
  std::printf("cold parse, first 1000 UAs of a fresh parser: %.1f us/UA\n",
              microsSince(start) / 1000);
  start = Clock::now();
  for (std::size_t i = 1000; i < cold.size(); ++i) uncached.parse(cold[i]);
  std::printf("cold parse, next %zu new UAs: %.1f us/UA\n", cold.size() - 1000,
              microsSince(start) / static_cast<double>(cold.size() - 1000));

  // Hits: a working set that fits the cache, looked up many times.
  const UserAgentParser cached;
  const auto hot = realisticAgents(200);
  for (const auto& ua : hot) cached.parse(ua);
  constexpr int kRounds = 2000;
  start = Clock::now();
  for (int r = 0; r < kRounds; ++r) {
    for (const auto& ua : hot) cached.parse(ua);
  }
  std::printf("cached hit, 1 thread: %.3f us/UA\n",
              microsSince(start) / (kRounds * static_cast<double>(hot.size())));

  for (const int threads : {2, 4, 8}) {
    std::vector<std::thread> pool;
    start = Clock::now();
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (int r = 0; r < kRounds / 4; ++r) {
          for (const auto& ua : hot) cached.parse(ua);
        }
      });
    }
    for (auto& th : pool) th.join();
    const double total =
        static_cast<double>(threads) * (kRounds / 4) * static_cast<double>(hot.size());
    std::printf("cached hit, %d threads: %.3f us/UA per thread (%.1f M lookups/s overall)\n",
                threads, microsSince(start) * threads / total, total / microsSince(start));
  }
  return 0;
}
