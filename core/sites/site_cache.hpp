// In-process copy of every website's id, owner and domain, so tracking needs no query per event.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "db/pool.hpp"

namespace mp::sites {

struct CachedSite {
  std::string userId;
  std::string domain;
};

class SiteCache {
 public:
  /// Reloads every `interval` from `pool` in a background thread started by start().
  SiteCache(db::Pool& pool, std::chrono::milliseconds interval);
  ~SiteCache();
  SiteCache(const SiteCache&) = delete;
  SiteCache& operator=(const SiteCache&) = delete;

  /// Loads once (throws DbError), then keeps reloading in the background.
  void start();
  void stop();

  /// The website, when it existed at the last reload (readers share an immutable snapshot).
  std::optional<CachedSite> find(const std::string& websiteId) const;
  /// Reloads now (also used after a website is created or deleted by this process).
  void reload();
  /// Number of websites known.
  std::size_t size() const;

 private:
  using Map = std::unordered_map<std::string, CachedSite>;
  void run();

  db::Pool& pool_;
  std::chrono::milliseconds interval_;
  std::shared_ptr<const Map> sites_;
  mutable std::mutex mutex_;  // guards sites_ swaps and the stop flag
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mp::sites
