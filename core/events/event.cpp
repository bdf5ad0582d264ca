// Event encodings: short keys in the queue (it is read millions of times), API names on the wire;
// both written by hand (util/json_text.hpp), as every tracked event is serialised twice.
#include "events/event.hpp"

#include <nlohmann/json.hpp>

#include "util/error.hpp"
#include "util/json_text.hpp"
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

}  // namespace

std::string toQueueJson(const Event& e) {
  std::string out;
  out.reserve(256 + e.url.size() + e.referrer.size() + e.userAgent.size() + e.props.size());
  const auto field = [&out](std::string_view key, std::string_view value) {
    out.push_back(',');
    util::appendJsonKey(out, key);
    util::appendJsonString(out, value);
  };
  out.push_back('{');
  util::appendJsonKey(out, "i");
  util::appendJsonString(out, e.id);
  field("w", e.websiteId);
  out.append(",\"t\":", 5);
  util::appendJsonInt(out, e.tsMillis);
  field("y", e.eventType);
  field("p", e.page);
  field("u", e.url);
  field("h", e.hostname);
  field("r", e.referrer);
  field("rh", e.referrerHost);
  field("s", e.sessionId);
  out.append(",\"v\":", 5);
  util::appendJsonInt(out, e.visitorId);
  field("ua", e.userAgent);
  field("b", e.browser);
  field("o", e.os);
  field("d", e.device);
  field("c", e.country);
  field("ip", e.ip);
  field("pr", e.props);
  out.push_back('}');
  return out;
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

std::string liveFeedFrame(const Event& e) {
  std::string out;
  out.reserve(224 + e.url.size() + e.referrer.size());
  const auto field = [&out](std::string_view key, std::string_view value) {
    out.push_back(',');
    util::appendJsonKey(out, key);
    util::appendJsonString(out, value);
  };
  const auto nullable = [&out, &field](std::string_view key, std::string_view value) {
    if (!value.empty()) return field(key, value);
    out.push_back(',');
    util::appendJsonKey(out, key);
    out.append("null", 4);
  };
  out.append("{\"type\":\"event\"");
  field("websiteId", e.websiteId);
  field("eventType", e.eventType);
  field("page", e.page);
  field("url", e.url);
  nullable("referrer", e.referrer);
  field("sessionId", e.sessionId);
  field("timestamp", util::formatRfc3339Millis(e.tsMillis));
  field("browser", e.browser);
  field("os", e.os);
  field("device", e.device);
  nullable("country", e.country);
  out.push_back('}');
  return out;
}

}  // namespace mp::events
