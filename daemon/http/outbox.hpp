// Answers finished on another thread, written by the HTTP worker that owns their connection.
#pragma once

#include <pistache/http.h>
#include <pistache/peer.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mp::http {

/// Complete HTTP responses waiting for their worker thread. Pistache would take each answer sent
/// from another thread through its own queue: an eventfd write per answer, then, on the worker,
/// two epoll_ctl calls and a wait for the socket to be writable before the send. Answers posted
/// here wake the worker once for all that are waiting, and it sends each straight away.
///
/// Shared by the worker's transport and the answers in flight, so an answer that comes after
/// the server has stopped is dropped with the outbox.
class Outbox {
 public:
  /// One complete response (status line, headers, body) for a connection.
  struct Item {
    std::weak_ptr<Pistache::Tcp::Peer> peer;
    std::string bytes;
  };

  Outbox();
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  /// Any thread: queues `bytes` for `peer`; wakes the worker unless it has been woken already
  /// for answers it has not taken yet.
  void post(std::weak_ptr<Pistache::Tcp::Peer> peer, std::string bytes);

  /// The worker: the eventfd it polls for posted answers.
  int fd() const { return fd_; }

  /// The worker: moves everything posted so far into `out` (emptied first) and resets the
  /// eventfd.
  void take(std::vector<Item>& out);

 private:
  int fd_ = -1;
  std::mutex mutex_;
  std::vector<Item> items_;
};

/// The outbox of the HTTP worker running on this thread (null on any other thread).
const std::shared_ptr<Outbox>& currentOutbox();
/// Called by the worker's transport, on the worker's thread.
void setCurrentOutbox(const std::shared_ptr<Outbox>& outbox);

}  // namespace mp::http
