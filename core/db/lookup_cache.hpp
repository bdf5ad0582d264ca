// An in-process cache of rows by id, kept coherent by explicit invalidation, whose misses are
// looked up in PostgreSQL in batches on the cache's own thread, never on the caller's.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "db/pool.hpp"
#include "log/log.hpp"
#include "util/sched.hpp"

namespace mp::db {

/// What the cache knows of one id.
enum class Known {
  kPresent,  ///< the row exists; its value is in Lookup::value
  kAbsent,   ///< no such row (cached for a short while)
  kUnsure,   ///< not cached (or the lookup failed): ask resolveAsync() or get()
};

template <typename V>
struct Lookup {
  Known state = Known::kUnsure;
  V value{};
};

/// A map id → V filled from PostgreSQL. peek() never blocks on I/O (a shared lock and a hash
/// lookup); a miss is resolved by resolveAsync(), which queues the id for the cache's thread:
/// it looks every queued id up in one query, caches the answers (absent ones for absentTtl, so
/// unknown ids cannot make a query each) and then calls the callbacks on that thread.
/// forget()/forgetAll() drop what is cached when another process announces a change; a lookup
/// or reload that was running when an id was forgotten does not cache its (maybe stale) answer.
template <typename V>
class LookupCache {
 public:
  /// The rows of the given ids that exist (ids are lower-case UUIDs); throws DbError.
  using Fetch = std::function<std::unordered_map<std::string, V>(
      Connection& conn, const std::vector<std::string>& ids)>;
  /// Every row (for a full reload); throws DbError.
  using FetchAll = std::function<std::unordered_map<std::string, V>(Connection& conn)>;
  /// Called once per resolveAsync() with the answer (kUnsure when the lookup failed).
  using Callback = std::function<void(const Lookup<V>&)>;

  struct Options {
    std::string name;  ///< for log lines ("website cache")
    std::chrono::milliseconds presentTtl{
        0};  ///< how long a found row is trusted; 0: until forgotten
    std::chrono::milliseconds absentTtl{30000};   ///< how long "no such row" is trusted
    std::chrono::milliseconds reloadInterval{0};  ///< full reload period (needs FetchAll); 0: none
    std::size_t maxEntries = 200000;              ///< more absent ids than this are not cached
    std::size_t maxPending = 4096;                ///< distinct ids waiting for a lookup at most
    std::size_t maxBatch = 256;                   ///< ids per lookup query
  };

  LookupCache(Pool& pool, Fetch fetch, FetchAll fetchAll, Options options)
      : pool_(pool),
        fetch_(std::move(fetch)),
        fetchAll_(std::move(fetchAll)),
        options_(std::move(options)) {}
  ~LookupCache() { stop(); }
  LookupCache(const LookupCache&) = delete;
  LookupCache& operator=(const LookupCache&) = delete;

  /// Loads every row once when there is a FetchAll (throws DbError), then starts the thread.
  void start() {
    if (fetchAll_) reload();
    std::lock_guard lock(mutex_);
    stopping_ = false;
    if (!thread_.joinable()) {
      thread_ = std::thread([this] {
        util::nameThread("mp-lookup");
        util::preferThroughput();
        run();
      });
    }
  }

  /// Joins the thread; callbacks still waiting get kUnsure. Idempotent.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::unordered_map<std::string, std::vector<Callback>> left;
    {
      std::lock_guard lock(mutex_);
      left.swap(pending_);
      order_.clear();
    }
    for (auto& [id, callbacks] : left) {
      for (auto& cb : callbacks) call(cb, Lookup<V>{});
    }
  }

  /// What is cached for `id`, without any I/O.
  Lookup<V> peek(const std::string& id) const {
    std::shared_lock lock(entriesMutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return {};
    if (it->second.expires != Clock::time_point::max() && Clock::now() >= it->second.expires) {
      return {};
    }
    if (!it->second.present) return Lookup<V>{Known::kAbsent, V{}};
    return Lookup<V>{Known::kPresent, it->second.value};
  }

  /// peek(), and on a miss a lookup on the calling thread (for threads that may block); never
  /// kUnsure. Throws DbError.
  Lookup<V> get(const std::string& id) {
    auto cached = peek(id);
    if (cached.state != Known::kUnsure) return cached;
    auto found = load({id});
    auto it = found.find(id);
    return it == found.end() ? Lookup<V>{Known::kAbsent, V{}} : it->second;
  }

  /// Queues a lookup of `id` for the cache's thread, which calls `then` with the answer; lookups
  /// of one id already waiting share one query. False (and `then` is not called) when too many
  /// ids wait or the cache is stopped.
  bool resolveAsync(const std::string& id, Callback then) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || !thread_.joinable()) return false;
      auto it = pending_.find(id);
      if (it != pending_.end()) {
        it->second.push_back(std::move(then));
        return true;
      }
      if (pending_.size() >= options_.maxPending) return false;
      pending_[id].push_back(std::move(then));
      order_.push_back(id);
    }
    wake_.notify_one();
    return true;
  }

  /// Caches a row this process has just written (no lookup needed).
  void put(const std::string& id, V value) {
    std::unique_lock lock(entriesMutex_);
    noteForget(id);
    entries_[id] = Entry{true, std::move(value), expiry(true)};
  }

  /// Drops what is cached of `id` (a change announced by another process, or made here).
  void forget(const std::string& id) {
    std::unique_lock lock(entriesMutex_);
    noteForget(id);
    entries_.erase(id);
  }

  /// Drops everything (announcements may have been missed); with a FetchAll, the cache's thread
  /// reloads every row soon after.
  void forgetAll() {
    {
      std::unique_lock lock(entriesMutex_);
      noteForget({});
      if (!fetchAll_) entries_.clear();
    }
    if (fetchAll_) {
      {
        std::lock_guard lock(mutex_);
        reloadRequested_ = true;
      }
      wake_.notify_one();
    }
  }

  /// Replaces the cached rows with every row now (needs a FetchAll); throws DbError.
  void reload() {
    std::uint64_t started;
    {
      std::unique_lock lock(entriesMutex_);
      started = beginLoad();
    }
    std::unordered_map<std::string, V> all;
    try {
      auto conn = pool_.acquire();
      all = fetchAll_(*conn);
    } catch (...) {
      std::unique_lock lock(entriesMutex_);
      endLoad();
      throw;
    }
    ++queries_;
    std::unique_lock lock(entriesMutex_);
    if (forgottenAllSince(started)) {
      // Everything was forgotten meanwhile: this snapshot may predate what was missed.
      entries_.clear();
      endLoad();
      return;
    }
    // Cached absences stay true (ids are never reused); an id changed meanwhile keeps what its
    // announcement left; every other present row comes from the snapshot.
    std::unordered_map<std::string, Entry> fresh;
    fresh.reserve(all.size() + 16);
    const auto now = Clock::now();
    for (auto& [id, entry] : entries_) {
      if ((!entry.present && entry.expires > now) || forgottenSince(started, id)) {
        fresh.emplace(id, std::move(entry));
      }
    }
    for (auto& [id, value] : all) {
      if (forgottenSince(started, id)) continue;
      fresh[id] = Entry{true, std::move(value), expiry(true)};
    }
    entries_.swap(fresh);
    endLoad();
  }

  /// Rows cached as present.
  std::size_t size() const {
    std::shared_lock lock(entriesMutex_);
    return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(),
                                                  [](const auto& e) { return e.second.present; }));
  }

  /// Queries run so far (lookups and full reloads), for /metrics and tests.
  std::uint64_t queries() const { return queries_.load(); }

 private:
  using Clock = std::chrono::steady_clock;

  struct Entry {
    bool present = false;
    V value{};
    Clock::time_point expires = Clock::time_point::max();
  };

  Clock::time_point expiry(bool present) const {
    const auto ttl = present ? options_.presentTtl : options_.absentTtl;
    if (ttl.count() <= 0) return Clock::time_point::max();
    return Clock::now() + ttl;
  }

  // The following four run under entriesMutex_ (unique). While a load runs, every forgotten id
  // is remembered with the epoch it was forgotten in ("" for all), so that the load does not
  // cache an answer older than the announcement.
  void noteForget(const std::string& id) {
    ++epoch_;
    if (loads_ > 0) forgets_.emplace_back(epoch_, id);
  }
  std::uint64_t beginLoad() {
    ++loads_;
    return epoch_;
  }
  void endLoad() {
    if (--loads_ == 0) forgets_.clear();
  }
  bool forgottenSince(std::uint64_t started, const std::string& id) const {
    return std::any_of(forgets_.begin(), forgets_.end(), [&](const auto& f) {
      return f.first > started && (f.second.empty() || f.second == id);
    });
  }
  bool forgottenAllSince(std::uint64_t started) const {
    return std::any_of(forgets_.begin(), forgets_.end(),
                       [&](const auto& f) { return f.first > started && f.second.empty(); });
  }

  // Looks `ids` up in one query and caches the answers; returns them (absent ids missing).
  // Throws DbError.
  std::unordered_map<std::string, Lookup<V>> load(const std::vector<std::string>& ids) {
    std::uint64_t started;
    {
      std::unique_lock lock(entriesMutex_);
      started = beginLoad();
    }
    std::unordered_map<std::string, V> rows;
    try {
      auto conn = pool_.acquire();
      rows = fetch_(*conn, ids);
    } catch (...) {
      std::unique_lock lock(entriesMutex_);
      endLoad();
      throw;
    }
    ++queries_;
    std::unordered_map<std::string, Lookup<V>> out;
    std::unique_lock lock(entriesMutex_);
    for (const auto& id : ids) {
      auto row = rows.find(id);
      const bool present = row != rows.end();
      Lookup<V> answer{present ? Known::kPresent : Known::kAbsent, present ? row->second : V{}};
      if (!forgottenSince(started, id)) {
        if (present || entries_.size() < options_.maxEntries || evictExpired()) {
          entries_[id] = Entry{present, answer.value, expiry(present)};
        }
      }
      out.emplace(id, std::move(answer));
    }
    endLoad();
    return out;
  }

  // Under entriesMutex_: drops expired entries; true when there is room again.
  bool evictExpired() {
    const auto now = Clock::now();
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = it->second.expires <= now ? entries_.erase(it) : std::next(it);
    }
    return entries_.size() < options_.maxEntries;
  }

  static void call(Callback& cb, const Lookup<V>& answer) noexcept {
    try {
      cb(answer);
    } catch (const std::exception& e) {
      try {
        log::get("db")->error("lookup callback failed: {}", e.what());
      } catch (...) {
      }
    } catch (...) {
    }
  }

  void run() {
    bool failing = false;
    auto nextReload = options_.reloadInterval.count() > 0 && fetchAll_
                          ? Clock::now() + options_.reloadInterval
                          : Clock::time_point::max();
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait_until(lock, nextReload, [&] {
        return stopping_ || !order_.empty() || reloadRequested_ || Clock::now() >= nextReload;
      });
      if (stopping_) return;
      if (!order_.empty()) {
        std::vector<std::string> ids;
        std::vector<std::vector<Callback>> callbacks;
        while (!order_.empty() && ids.size() < options_.maxBatch) {
          std::string id = std::move(order_.front());
          order_.pop_front();
          auto it = pending_.find(id);
          if (it == pending_.end()) continue;
          callbacks.push_back(std::move(it->second));
          pending_.erase(it);
          ids.push_back(std::move(id));
        }
        lock.unlock();
        std::unordered_map<std::string, Lookup<V>> answers;
        try {
          answers = load(ids);
          if (failing) log::get("db")->info("{}: lookups work again", options_.name);
          failing = false;
        } catch (const std::exception& e) {
          if (!failing) log::get("db")->warn("{}: lookup failed: {}", options_.name, e.what());
          failing = true;
        }
        for (std::size_t i = 0; i < ids.size(); ++i) {
          auto it = answers.find(ids[i]);
          const Lookup<V> answer = it == answers.end() ? Lookup<V>{} : it->second;
          for (auto& cb : callbacks[i]) call(cb, answer);
        }
        lock.lock();
        continue;
      }
      if (reloadRequested_ || Clock::now() >= nextReload) {
        reloadRequested_ = false;
        lock.unlock();
        try {
          reload();
          if (failing) log::get("db")->info("{}: reloads again", options_.name);
          failing = false;
        } catch (const std::exception& e) {
          // Keep serving what is cached; say so once per outage.
          if (!failing) log::get("db")->warn("{}: reload failed: {}", options_.name, e.what());
          failing = true;
        }
        lock.lock();
        if (options_.reloadInterval.count() > 0)
          nextReload = Clock::now() + options_.reloadInterval;
      }
    }
  }

  Pool& pool_;
  Fetch fetch_;
  FetchAll fetchAll_;
  Options options_;
  std::atomic<std::uint64_t> queries_{0};

  mutable std::shared_mutex entriesMutex_;  // entries_, epoch_, loads_, forgets_
  std::unordered_map<std::string, Entry> entries_;
  std::uint64_t epoch_ = 0;
  int loads_ = 0;
  std::vector<std::pair<std::uint64_t, std::string>> forgets_;

  std::mutex mutex_;  // pending_, order_, reloadRequested_, stopping_
  std::condition_variable wake_;
  std::unordered_map<std::string, std::vector<Callback>> pending_;
  std::deque<std::string> order_;
  bool reloadRequested_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mp::db
