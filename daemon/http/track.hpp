// POST /track and OPTIONS /track (public; CORS open to every origin).
#pragma once

#include <pistache/http.h>

#include <memory>
#include <string>

#include "http/router.hpp"
#include "ingest/tracker.hpp"

namespace mp::daemon {
struct Services;
}

namespace mp::http {

void addTrackRoutes(Router& router, std::shared_ptr<daemon::Services> services);

/// Registers OPTIONS `path` answering a CORS preflight as OPTIONS /track does.
void addTrackingPreflight(Router& router, const std::string& path);

/// Access-Control-Allow-Origin: * (every answer of a tracking route, errors included).
void addTrackingCors(Pistache::Http::ResponseWriter& response);

/// Checks the media type (JSON or text/plain; none is taken as JSON) and the body's size;
/// throws UnsupportedMediaType (415) or Rejected (413).
void checkTrackingBody(const Pistache::Http::Request& request, const daemon::Services& services);

/// A TrackRequest with everything the HTTP request tells (agent, address, Origin, DNT, now) but
/// the body and the token.
ingest::TrackRequest trackRequest(const Pistache::Http::Request& request,
                                  const daemon::Services& services);

/// Hands one event to the tracker; `answer` gets its outcome (or the error to answer), now or
/// later from another thread.
void submitTrack(daemon::Services& services, const ingest::TrackRequest& track,
                 const ingest::TrackCallback& answer);

/// The X-MetricPulse-Dropped value of an event accepted but not kept ("bot",
/// "do_not_track"), or empty.
std::string droppedReason(ingest::TrackOutcome outcome);

}  // namespace mp::http
