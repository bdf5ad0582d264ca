// The payloads of Plausible's and Umami's trackers, translated into the body of POST /track, so
// their snippets and clients feed the same pipeline with the same checks.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mp::ingest {

/// A Plausible event: the websites it names (by domain) and the /track body it becomes.
struct PlausibleEvent {
  std::vector<std::string> domains;  ///< normalised, in the order given, without repeats
  nlohmann::json body;               ///< a /track body without websiteId
};

/// Reads Plausible's event payload: the tracker's short names (n, u, d, r, p or m, i, h) or the
/// Events API's long ones (name, url, domain, referrer, props, interactive); props may come as
/// a JSON text; `d` may list several comma-separated domains. Unknown fields are ignored, as
/// Plausible does. Throws InvalidInput naming the field.
PlausibleEvent fromPlausible(const std::string& text);

/// An Umami payload ({type, payload}) translated; `body` is null for a type that records no event
/// (identify, performance, engagement), which `type` then names.
struct UmamiEvent {
  std::string type;
  nlohmann::json body;  ///< a /track body with websiteId, or null
};

/// Reads one Umami collection payload: payload.website (UUID), hostname, url (absolute, or a path
/// on hostname), referrer, name (an event name; none: a page view), data (props; nested objects
/// become dotted keys), timestamp (Unix seconds); title, language, screen, ip and userAgent are
/// not taken (the address and agent recorded are the request's). `where` prefixes field names
/// in errors ("events[2]." in a batch).
/// Throws InvalidInput.
UmamiEvent fromUmami(const nlohmann::json& item, const std::string& where = "");

/// The /track body with the website filled in, as JSON text.
std::string trackBody(nlohmann::json body, const std::string& websiteId);

}  // namespace mp::ingest
