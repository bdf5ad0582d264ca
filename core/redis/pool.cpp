// The client pool: a mutex-guarded free list and a condition variable for waiting borrowers.
#include "redis/pool.hpp"

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "util/error.hpp"

namespace mp::redis {

// Shared by the pool and its leases, so a lease returned after the pool is gone has somewhere safe
// to go.
struct Pool::Lease::State {
  std::mutex mutex;
  std::condition_variable returned;
  std::vector<std::unique_ptr<Client>> idle;
  bool closed = false;
};

Pool::Lease::Lease(std::shared_ptr<State> state, std::unique_ptr<Client> client) noexcept
    : state_(std::move(state)), client_(std::move(client)) {}

Pool::Lease& Pool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::move(other.state_);
    client_ = std::move(other.client_);
  }
  return *this;
}

Pool::Lease::~Lease() {
  release();
}

void Pool::Lease::release() noexcept {
  if (!client_ || !state_) return;
  {
    const std::lock_guard lock(state_->mutex);
    if (!state_->closed) {
      // A client that failed has already dropped its connection and reconnects on next use, so
      // it can go back as it is.
      state_->idle.push_back(std::move(client_));
    }
  }
  client_.reset();
  state_->returned.notify_one();
  state_.reset();
}

Pool::Pool(const Url& url, std::size_t size, std::chrono::milliseconds timeout, Retry retry)
    : state_(std::make_shared<Lease::State>()),
      size_(size),
      timeout_(timeout),
      backoff_(std::make_shared<Backoff>()) {
  if (size == 0) throw std::invalid_argument("redis pool: size must be at least 1");
  state_->idle.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    state_->idle.push_back(std::make_unique<Client>(url, timeout, retry, backoff_));
  }
}

Pool::~Pool() {
  const std::lock_guard lock(state_->mutex);
  state_->closed = true;
  state_->idle.clear();
}

std::optional<Pool::Lease> Pool::tryAcquire(std::chrono::milliseconds wait) {
  std::unique_lock lock(state_->mutex);
  if (!state_->returned.wait_for(lock, wait, [this] { return !state_->idle.empty(); })) {
    return std::nullopt;
  }
  auto client = std::move(state_->idle.back());
  state_->idle.pop_back();
  return Lease(state_, std::move(client));
}

Pool::Lease Pool::acquire() {
  if (timeout_.count() <= 0) {
    // No time-out configured: wait as long as it takes, as the clients themselves would.
    std::unique_lock lock(state_->mutex);
    state_->returned.wait(lock, [this] { return !state_->idle.empty(); });
    auto client = std::move(state_->idle.back());
    state_->idle.pop_back();
    return Lease(state_, std::move(client));
  }
  auto lease = tryAcquire(timeout_);
  if (!lease) {
    throw RedisError("no Redis connection free within " + std::to_string(timeout_.count()) +
                     " ms (all " + std::to_string(size_) + " in use)");
  }
  return std::move(*lease);
}

bool Pool::ping() noexcept {
  try {
    auto lease = tryAcquire(timeout_);
    return lease && (*lease)->ping();
  } catch (...) {
    return false;
  }
}

std::size_t Pool::available() const {
  const std::lock_guard lock(state_->mutex);
  return state_->idle.size();
}

}  // namespace mp::redis
