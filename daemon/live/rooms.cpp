// The live server's rooms: subscriptions per website over the Redis subscriber, fan-out of
// published events to the members, realtime counts pushed every 5 s.
#include "live/live_impl.hpp"

namespace mp::ws {

void LiveServer::Impl::fanout(const std::string& websiteId, const Frame& frame) {
  auto it = rooms.find(websiteId);
  if (it == rooms.end()) return;
  std::vector<Client*> slow;
  for (Client* c : it->second.members) {
    if (!enqueue(*c, frame)) slow.push_back(c);
  }
  for (Client* c : slow) destroy(c);
}

void LiveServer::Impl::join(Client& c, const std::string& id) {
  if (!c.rooms.insert(id)) {
    auto it = rooms.find(id);
    const bool waiting =
        it != rooms.end() && std::find(it->second.waiting.begin(), it->second.waiting.end(), &c) !=
                                 it->second.waiting.end();
    if (!waiting) send(c, subscribedFrame(id));
    return;
  }
  Room& room = rooms[id];
  room.members.insert(&c);
  if (room.members.size() == 1) subscribe(id);
  if (room.confirmed) {
    send(c, subscribedFrame(id));
  } else {
    room.waiting.push_back(&c);
  }
}

Frame LiveServer::Impl::subscribedFrame(const std::string& id) {
  return textFrame({{"type", "subscribed"}, {"websiteId", id}});
}

void LiveServer::Impl::confirm(const std::string& id) {
  auto it = rooms.find(id);
  if (it == rooms.end()) return;
  it->second.confirmed = true;
  const std::vector<Client*> waiting = std::move(it->second.waiting);
  it->second.waiting.clear();
  const Frame frame = subscribedFrame(id);
  std::vector<Client*> slow;
  for (Client* c : waiting) {
    if (clients.count(c) && !enqueue(*c, frame)) slow.push_back(c);
  }
  for (Client* c : slow) destroy(c);
}

void LiveServer::Impl::leave(Client& c, const std::string& id, bool answer) {
  if (!c.rooms.erase(id)) return;
  auto it = rooms.find(id);
  if (it == rooms.end()) return;
  it->second.members.erase(&c);
  auto& waiting = it->second.waiting;
  const auto kept = std::remove(waiting.begin(), waiting.end(), &c);
  const bool wasWaiting = kept != waiting.end();
  waiting.erase(kept, waiting.end());
  if (it->second.members.empty()) {
    rooms.erase(it);
    unsubscribe(id);
  }
  if (answer && wasWaiting) send(c, subscribedFrame(id));
}

void LiveServer::Impl::leaveAll(Client& c) {
  const std::vector<std::string> ids(c.rooms.begin(), c.rooms.end());
  for (const auto& id : ids) leave(c, id);
}

void LiveServer::Impl::subscribe(const std::string& id) {
  redisAsyncContext* ctx = subscriber ? subscriber->context() : nullptr;
  if (!ctx) return;  // resubscribe() sends it once Redis is back
  const std::string channel = redis::eventsChannel(id);
  if (redisAsyncCommand(ctx, &Impl::onChannel, this, "SUBSCRIBE %b", channel.data(),
                        channel.size()) == REDIS_OK) {
    ++inflight[id];
  }
}

void LiveServer::Impl::unsubscribe(const std::string& id) {
  redisAsyncContext* ctx = subscriber ? subscriber->context() : nullptr;
  if (!ctx) return;
  const std::string channel = redis::eventsChannel(id);
  // Fails (harmlessly) when hiredis knows of no subscription, e.g. right after a reconnect.
  if (redisAsyncCommand(ctx, &Impl::onChannel, this, "UNSUBSCRIBE %b", channel.data(),
                        channel.size()) == REDIS_OK) {
    ++inflight[id];
  }
}

void LiveServer::Impl::resubscribe() {
  redisAsyncContext* ctx = subscriber ? subscriber->context() : nullptr;
  if (!ctx) return;
  inflight.clear();
  for (auto& [id, room] : rooms) room.confirmed = false;
  const std::string anchor = redis::eventsChannel("");
  redisAsyncCommand(ctx, &Impl::onChannel, this, "SUBSCRIBE %b", anchor.data(), anchor.size());
  for (const auto& [id, room] : rooms) subscribe(id);
}

void LiveServer::Impl::onChannel(redisAsyncContext*, void* r, void* arg) {
  auto* self = static_cast<Impl*>(arg);
  auto* reply = static_cast<redisReply*>(r);
  if (!reply || !self) return;  // the connection is being freed
  try {
    self->channelReply(*reply);
  } catch (const std::exception& e) {
    log::get("ws")->error("live feed message: {}", e.what());
  } catch (...) {
  }
}

void LiveServer::Impl::channelReply(const redisReply& reply) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements < 3) return;
  const redisReply* kind = reply.element[0];
  const redisReply* channel = reply.element[1];
  if (kind->type != REDIS_REPLY_STRING || channel->type != REDIS_REPLY_STRING) return;
  const std::string_view name(channel->str, channel->len);
  if (name.substr(0, kChannelPrefix.size()) != kChannelPrefix) return;
  const std::string id(name.substr(kChannelPrefix.size()));
  if (id.empty()) return;  // the anchor
  const std::string_view type(kind->str, kind->len);
  if (type == "message") {
    const redisReply* payload = reply.element[2];
    if (payload->type != REDIS_REPLY_STRING) return;
    // The tracker publishes the API's frame text: encode it once, share it with the room.
    fanout(id, makeFrame(Opcode::Text, std::string_view(payload->str, payload->len)));
    return;
  }
  if (type == "unsubscribe" && rooms.count(id)) {
    // hiredis forgot this channel when the reply came; a client joined meanwhile.
    subscribe(id);
  }
  if (type != "subscribe" && type != "unsubscribe") return;
  auto it = inflight.find(id);
  if (it != inflight.end() && --it->second > 0) return;
  if (it != inflight.end()) inflight.erase(it);
  // Nothing else in flight: the last command was a SUBSCRIBE when the room exists.
  if (type == "subscribe") confirm(id);
}

void LiveServer::Impl::onRealtime(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Impl*>(arg);
  try {
    self->queryRealtime();
  } catch (const std::exception& e) {
    log::get("ws")->error("realtime: {}", e.what());
  } catch (...) {
  }
}

void LiveServer::Impl::queryRealtime() {
  redisAsyncContext* ctx = commands ? commands->context() : nullptr;
  if (!ctx || stopping) return;
  // The same count as GET /stats/{id}/realtime: sessions seen within the window.
  const std::string since = std::to_string(nowSeconds() - redis::kRealtimeWindow.count());
  const int slice = realtimeSlice;
  realtimeSlice = (realtimeSlice + 1) % kRealtimeSlices;
  for (const auto& [id, room] : rooms) {
    if (static_cast<int>(std::hash<std::string>{}(id) % kRealtimeSlices) != slice) continue;
    const std::string key = redis::realtimeKey(id);
    auto* query = new RealtimeQuery{this, id};
    if (redisAsyncCommand(ctx, &Impl::onRealtimeReply, query, "ZCOUNT %b %b +inf", key.data(),
                          key.size(), since.data(), since.size()) != REDIS_OK) {
      delete query;
    }
  }
}

void LiveServer::Impl::onRealtimeReply(redisAsyncContext*, void* r, void* arg) {
  std::unique_ptr<RealtimeQuery> query(static_cast<RealtimeQuery*>(arg));
  auto* reply = static_cast<redisReply*>(r);
  if (!reply || !query) return;
  try {
    if (reply->type != REDIS_REPLY_INTEGER) {
      if (reply->type == REDIS_REPLY_ERROR) {
        log::get("ws")->warn("realtime ZCOUNT: {}", std::string(reply->str, reply->len));
      }
      return;
    }
    if (!query->server->rooms.count(query->websiteId)) return;
    query->server->fanout(query->websiteId, textFrame({{"type", "realtime"},
                                                       {"websiteId", query->websiteId},
                                                       {"activeSessions", reply->integer}}));
  } catch (...) {
  }
}

}  // namespace mp::ws
