// Event encodings: short keys in the queue (it is read millions of times), API names on the wire.
#include "events/event.hpp"

#include "util/error.hpp"
#include "util/time.hpp"

namespace mp::events {
namespace {

using json = nlohmann::json;

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string()) throw Error(std::string("queued event: ") + key + " is not a string");
  return it->get<std::string>();
}

json nullable(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

}  // namespace

std::string toQueueJson(const Event& e) {
  json j = {{"i", e.id},        {"w", e.websiteId}, {"t", e.tsMillis},
            {"y", e.eventType}, {"p", e.page},      {"u", e.url},
            {"h", e.hostname},  {"r", e.referrer},  {"rh", e.referrerHost},
            {"s", e.sessionId}, {"v", e.visitorId}, {"ua", e.userAgent},
            {"b", e.browser},   {"o", e.os},        {"d", e.device},
            {"c", e.country},   {"ip", e.ip},       {"pr", e.props}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Event fromQueueJson(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) throw Error("queued event is not a JSON object");
  Event e;
  e.id = str(j, "i");
  e.websiteId = str(j, "w");
  if (e.id.empty() || e.websiteId.empty() || !j.contains("t") || !j["t"].is_number_integer()) {
    throw Error("queued event lacks its id, website or time");
  }
  e.tsMillis = j["t"].get<std::int64_t>();
  e.eventType = str(j, "y");
  e.page = str(j, "p");
  e.url = str(j, "u");
  e.hostname = str(j, "h");
  e.referrer = str(j, "r");
  e.referrerHost = str(j, "rh");
  e.sessionId = str(j, "s");
  e.visitorId = j.value("v", std::int64_t{0});
  e.userAgent = str(j, "ua");
  e.browser = str(j, "b");
  e.os = str(j, "o");
  e.device = str(j, "d");
  e.country = str(j, "c");
  e.ip = str(j, "ip");
  e.props = str(j, "pr");
  return e;
}

json liveFeedJson(const Event& e) {
  return {{"type", "event"},
          {"websiteId", e.websiteId},
          {"eventType", e.eventType},
          {"page", e.page},
          {"url", e.url},
          {"referrer", nullable(e.referrer)},
          {"sessionId", e.sessionId},
          {"timestamp", util::formatRfc3339Millis(e.tsMillis)},
          {"browser", e.browser},
          {"os", e.os},
          {"device", e.device},
          {"country", nullable(e.country)}};
}

}  // namespace mp::events
