// Answers finished on another thread, written by the HTTP worker that owns their connection.
#include "http/outbox.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "util/error.hpp"

namespace mp::http {
namespace {

thread_local std::shared_ptr<Outbox> tOutbox;

}  // namespace

Outbox::Outbox() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) throw Error(std::string("eventfd: ") + std::strerror(errno));
}

Outbox::~Outbox() {
  ::close(fd_);
}

void Outbox::post(std::weak_ptr<Pistache::Tcp::Peer> peer, std::string bytes) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    wake = items_.empty();
    items_.push_back({std::move(peer), std::move(bytes)});
  }
  if (!wake) return;
  const std::uint64_t one = 1;
  // Only EAGAIN can fail here (the counter at its maximum), and then the worker is awake anyway.
  [[maybe_unused]] const ssize_t n = ::write(fd_, &one, sizeof one);
}

void Outbox::take(std::vector<Item>& out) {
  out.clear();
  std::uint64_t count = 0;
  [[maybe_unused]] const ssize_t n = ::read(fd_, &count, sizeof count);
  std::lock_guard lock(mutex_);
  out.swap(items_);
}

const std::shared_ptr<Outbox>& currentOutbox() {
  return tOutbox;
}

void setCurrentOutbox(const std::shared_ptr<Outbox>& outbox) {
  if (tOutbox != outbox) tOutbox = outbox;
}

}  // namespace mp::http
