// SiteCache: a full reload every few seconds is cheap (one row per website) and needs no
// invalidation protocol between daemons; readers copy a shared_ptr to an immutable map.
#include "sites/site_cache.hpp"

#include "log/log.hpp"
#include "util/error.hpp"
#include "util/sched.hpp"

namespace mp::sites {

SiteCache::SiteCache(db::Pool& pool, std::chrono::milliseconds interval)
    : pool_(pool), interval_(interval), sites_(std::make_shared<const Map>()) {}

SiteCache::~SiteCache() {
  stop();
}

void SiteCache::start() {
  reload();
  thread_ = std::thread([this] {
    util::preferThroughput();
    run();
  });
}

void SiteCache::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SiteCache::reload() {
  auto conn = pool_.acquire();
  auto rows = conn->exec("SELECT id::text, user_id::text, domain FROM websites");
  auto fresh = std::make_shared<Map>();
  fresh->reserve(static_cast<std::size_t>(rows.rows()));
  for (int r = 0; r < rows.rows(); ++r) {
    fresh->emplace(std::string(rows.get(r, 0)),
                   CachedSite{std::string(rows.get(r, 1)), std::string(rows.get(r, 2))});
  }
  std::lock_guard lock(mutex_);
  sites_ = std::move(fresh);
}

std::optional<CachedSite> SiteCache::find(const std::string& websiteId) const {
  std::shared_ptr<const Map> snapshot;
  {
    std::lock_guard lock(mutex_);
    snapshot = sites_;
  }
  auto it = snapshot->find(websiteId);
  if (it == snapshot->end()) return std::nullopt;
  return it->second;
}

std::size_t SiteCache::size() const {
  std::lock_guard lock(mutex_);
  return sites_->size();
}

void SiteCache::run() {
  bool failing = false;
  std::unique_lock lock(mutex_);
  while (!cv_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    try {
      reload();
      if (failing) log::get("ingest")->info("website cache reloads again");
      failing = false;
    } catch (const std::exception& e) {
      // Keep serving the last good copy; say so once per outage.
      if (!failing) log::get("ingest")->warn("website cache reload failed: {}", e.what());
      failing = true;
    }
    lock.lock();
  }
}

}  // namespace mp::sites
