// Group commit: one thread turns many concurrent single-event writes into one transaction.
#include "ingest/direct_writer.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "log/log.hpp"
#include "util/error.hpp"
#include "util/sched.hpp"

namespace mp::ingest {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

// One caller's event and its fate; shared with the caller, who may stop waiting at any time.
// `state` is guarded by DirectWriter::mutex_; `event` belongs to the batching thread once the
// waiter is queued.
struct DirectWriter::Waiter {
  enum class State { kQueued, kWriting, kStored, kFailed, kAbandoned };
  events::Event event;
  Clock::time_point queued;
  State state = State::kQueued;
  std::function<void(bool)> done;  // set by writeAsync; called once with the outcome
};

DirectWriter::DirectWriter(const config::Config& config, db::Pool& pool,
                           DirectWriterOptions options)
    : batchSize_(static_cast<std::size_t>(std::max(1, config.ingest.batchSize))),
      options_(options),
      pool_(pool) {
  thread_ = std::thread([this] {
    util::nameThread("mp-direct");
    run();
  });
}

DirectWriter::~DirectWriter() {
  stop();
}

bool DirectWriter::write(events::Event event, std::chrono::milliseconds timeout) noexcept {
  try {
    auto waiter = std::make_shared<Waiter>();
    waiter->event = std::move(event);
    waiter->queued = Clock::now();
    const auto deadline = waiter->queued + timeout;
    std::unique_lock lock(mutex_);
    if (stopping_) return false;
    queue_.push_back(waiter);
    wake_.notify_one();
    const bool finished = done_.wait_until(lock, deadline, [&waiter] {
      return waiter->state == Waiter::State::kStored || waiter->state == Waiter::State::kFailed;
    });
    if (finished) return waiter->state == Waiter::State::kStored;
    // Still queued: make sure it is never written, so the 503 the caller sends is the whole
    // truth. Already being written: it may yet be stored; an answer of false loses nothing.
    if (waiter->state == Waiter::State::kQueued) waiter->state = Waiter::State::kAbandoned;
    stats_.timeouts.fetch_add(1, std::memory_order_relaxed);
    return false;
  } catch (...) {
    return false;
  }
}

void DirectWriter::writeAsync(events::Event event, std::function<void(bool)> done) noexcept {
  try {
    auto waiter = std::make_shared<Waiter>();
    waiter->event = std::move(event);
    waiter->queued = Clock::now();
    waiter->done = std::move(done);
    std::unique_lock lock(mutex_);
    if (stopping_) {
      lock.unlock();
      waiter->done(false);
      return;
    }
    queue_.push_back(std::move(waiter));
    wake_.notify_one();
  } catch (...) {
    try {
      if (done) done(false);
    } catch (...) {
    }
  }
}

void DirectWriter::stop() noexcept {
  std::thread thread;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  wake_.notify_all();
  try {
    if (thread.joinable()) thread.join();
  } catch (...) {
  }
}

void DirectWriter::run() noexcept {
  std::unique_lock lock(mutex_);
  try {
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
      // Let others join the first event for a moment: a transaction per event would cost a WAL
      // flush per HTTP request, which is what the queue exists to avoid.
      const auto deadline = queue_.front()->queued + options_.gather;
      wake_.wait_until(lock, deadline, [this] { return stopping_ || queue_.size() >= batchSize_; });
      if (stopping_) break;

      std::vector<std::shared_ptr<Waiter>> batch;
      batch.reserve(std::min(queue_.size(), batchSize_));
      while (!queue_.empty() && batch.size() < batchSize_) {
        std::shared_ptr<Waiter> waiter = std::move(queue_.front());
        queue_.pop_front();
        if (waiter->state != Waiter::State::kQueued) continue;  // its caller gave up
        waiter->state = Waiter::State::kWriting;
        batch.push_back(std::move(waiter));
      }
      if (batch.empty()) continue;

      lock.unlock();
      writeBatch(batch);
      lock.lock();
      done_.notify_all();
    }
  } catch (...) {
    if (!lock.owns_lock()) lock.lock();
    try {
      log::get("ingest")->critical("direct writer stopped by an unexpected failure");
    } catch (...) {
    }
  }
  // Nobody will write these any more: tell their callers now rather than at their time-out.
  std::vector<std::shared_ptr<Waiter>> abandoned;
  for (const auto& waiter : queue_) {
    if (waiter->state == Waiter::State::kQueued) {
      waiter->state = Waiter::State::kFailed;
      if (waiter->done) abandoned.push_back(waiter);
    }
  }
  queue_.clear();
  stopping_ = true;
  done_.notify_all();
  lock.unlock();
  for (const auto& waiter : abandoned) {
    try {
      waiter->done(false);
    } catch (...) {
    }
  }
}

// Runs without the mutex; sets each waiter's state under it before returning.
void DirectWriter::writeBatch(std::vector<std::shared_ptr<Waiter>>& batch) noexcept {
  std::vector<bool> stored(batch.size(), false);
  try {
    std::vector<events::Event> events;
    events.reserve(batch.size());
    for (const auto& waiter : batch) events.push_back(std::move(waiter->event));

    const auto started = Clock::now();
    try {
      db::Pool::Lease lease = pool_.acquire(options_.acquireWait);
      const IsolatedInsert outcome = EventStore::insertIsolating(*lease, events);
      stats_.recordBatch(events.size(), outcome, Clock::now() - started);
      std::fill(stored.begin(), stored.end(), true);
      for (const std::size_t i : outcome.rejected) stored[i] = false;
      if (!outcome.rejected.empty()) {
        log::get("ingest")->warn("refused {} events PostgreSQL cannot store (first: {})",
                                 outcome.rejected.size(), outcome.firstRejection);
      }
      if (stats_.postgresDown.exchange(false)) {
        log::get("ingest")->info("direct writes to PostgreSQL succeed again");
      }
    } catch (const DbError& e) {
      stats_.writeErrors.fetch_add(1, std::memory_order_relaxed);
      if (!stats_.postgresDown.exchange(true)) {
        log::get("ingest")->error(
            "direct write to PostgreSQL failed, tracking requests get 503 until it recovers: {}",
            e.what());
      }
    }
  } catch (const std::exception& e) {
    try {
      log::get("ingest")->error("direct write failed: {}", e.what());
    } catch (...) {
    }
  }

  const auto failures = static_cast<std::uint64_t>(std::count(stored.begin(), stored.end(), false));
  stats_.failed.fetch_add(failures, std::memory_order_relaxed);
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      batch[i]->state = stored[i] ? Waiter::State::kStored : Waiter::State::kFailed;
    }
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i]->done) continue;
    try {
      batch[i]->done(stored[i]);
    } catch (...) {
    }
  }
}

}  // namespace mp::ingest
