// One tracked event as it travels: validated and enriched at ingest, queued, stored, broadcast.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mp::events {

/// An accepted event with every derived field (the columns of the events table).
struct Event {
  std::string id;             ///< UUIDv7 made at ingest: redelivery of the same event is harmless
  std::string websiteId;      ///< UUID
  std::int64_t tsMillis = 0;  ///< event time, milliseconds since the epoch (UTC)
  std::string eventType;      ///< "pageview" or a custom name
  std::string page;           ///< URL path, no query or fragment
  std::string url;
  std::string hostname;
  std::string referrer;      ///< "" = none
  std::string referrerHost;  ///< "" = none, or the site's own host
  std::string sessionId;
  std::int64_t visitorId = 0;
  std::string userAgent;
  std::string browser;
  std::string os;
  std::string device;   ///< desktop | mobile | tablet | bot | other
  std::string country;  ///< ISO 3166 alpha-2, "" = unknown
  std::string ip;       ///< as privacy.ip_storage keeps it, "" = none
  std::string props;    ///< a JSON object's text, "" = none
  /// False for a custom event sent with "interactive": false (scroll depth, time on page): it
  /// does not stop its visit from being a bounce (docs/metrics.md).
  bool interactive = true;

  friend bool operator==(const Event&, const Event&) = default;
};

/// The compact JSON kept in the ingest stream (one line of an entry, ingest/queue_entry.hpp).
std::string toQueueJson(const Event& event);
/// Reads toQueueJson()'s text back; throws mp::Error when it is not a valid queued event.
Event fromQueueJson(std::string_view text);

/// The live-feed frame of API.md as JSON text: {"type":"event","websiteId",…}, referrer and
/// country null when unknown. Serialised once per event and sent as is to every subscriber.
std::string liveFeedFrame(const Event& event);

}  // namespace mp::events
