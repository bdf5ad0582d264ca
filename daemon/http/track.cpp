// The tracking endpoint: HTTP concerns only (media type, size, CORS, token, client address);
// validation and queueing live in core/ingest/tracker.
#include "http/track.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>

#include "auth/jwt.hpp"
#include "http/common.hpp"
#include "http/outbox.hpp"
#include "http/response.hpp"
#include "ingest/tracker.hpp"
#include "services.hpp"
#include "users/account_cache.hpp"
#include "util/error.hpp"
#include "util/time.hpp"

namespace mp::http {
namespace Http = Pistache::Http;

namespace {

// The body of every 202, written once.
const std::string kAcceptedBody = R"({"ok":true})";

// The usual answer, written out once per HTTP version and Connection choice.
const std::string& acceptedBytes(Http::Version version, bool keepAlive) {
  static const std::array<std::string, 4> kBytes = [] {
    std::array<std::string, 4> bytes;
    for (int i = 0; i < 4; ++i) {
      bytes[static_cast<std::size_t>(i)] =
          jsonResponseBytes(i < 2 ? Http::Version::Http11 : Http::Version::Http10, i % 2 == 1,
                            Http::Code::Accepted, {}, true, kAcceptedBody);
    }
    return bytes;
  }();
  return kBytes[(version == Http::Version::Http10 ? 2 : 0) + (keepAlive ? 1 : 0)];
}

std::string lowerMediaType(const std::string& contentType) {
  std::string media = contentType.substr(0, contentType.find(';'));
  media.erase(0, media.find_first_not_of(" \t"));
  media.erase(media.find_last_not_of(" \t") + 1);
  std::transform(media.begin(), media.end(), media.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return media;
}

}  // namespace

void addTrackingCors(Http::ResponseWriter& response) {
  response.headers().add<Http::Header::AccessControlAllowOrigin>("*");
}

void addTrackingPreflight(Router& router, const std::string& path) {
  router.add(Http::Method::Options, path,
             [](const Http::Request&, const RouteParams&, Http::ResponseWriter& response) {
               addTrackingCors(response);
               response.headers().add<Http::Header::AccessControlAllowMethods>("POST, OPTIONS");
               response.headers().add<Http::Header::AccessControlAllowHeaders>("Content-Type");
               addHeader(response, "Access-Control-Max-Age", "86400");
               response.send(Http::Code::No_Content);
             });
}

void checkTrackingBody(const Http::Request& request, const daemon::Services& services) {
  if (auto type = header(request, "Content-Type")) {
    const std::string media = lowerMediaType(*type);
    if (media != "application/json" && media != "text/plain") {
      throw UnsupportedMediaType("send the event as application/json or text/plain");
    }
  }
  if (request.body().size() > static_cast<std::size_t>(services.config.http.maxBodyBytes)) {
    throw Rejected(
        413, "payload_too_large",
        "the body is larger than " + std::to_string(services.config.http.maxBodyBytes) + " bytes");
  }
}

ingest::TrackRequest trackRequest(const Http::Request& request, const daemon::Services& services) {
  ingest::TrackRequest track;
  track.userAgent = header(request, "User-Agent").value_or("");
  track.clientIp = clientAddress(request, services.config.http);
  track.origin = header(request, "Origin");
  track.doNotTrack = header(request, "DNT").value_or("") == "1";
  track.nowMillis = util::nowMillis();
  return track;
}

void submitTrack(daemon::Services& services, const ingest::TrackRequest& track,
                 const ingest::TrackCallback& answer) {
  std::optional<ingest::TrackOutcome> outcome;
  try {
    outcome = services.tracker->track(track, answer);
  } catch (...) {
    answer(ingest::TrackOutcome::kIgnored, std::current_exception());
    return;
  }
  if (outcome) answer(*outcome, nullptr);
}

std::string droppedReason(ingest::TrackOutcome outcome) {
  switch (outcome) {
    case ingest::TrackOutcome::kBot:
      return "bot";
    case ingest::TrackOutcome::kIgnored:
      return "do_not_track";
    default:
      return {};
  }
}

void addTrackRoutes(Router& router, std::shared_ptr<daemon::Services> services) {
  addTrackingPreflight(router, "/track");

  router.add(
      Http::Method::Post, "/track",
      [services](const Http::Request& request, const RouteParams&, Http::ResponseWriter& response) {
        ingest::TrackRequest track;
        std::optional<auth::Claims> claims;
        try {
          checkTrackingBody(request, *services);
          track = trackRequest(request, *services);
          track.body = request.body();
          if (bearerToken(request)) {
            claims = requireToken(request, *services);
            track.tokenUserId = claims->sub;
          }
          if (!currentOutbox()) throw Error("POST /track: this HTTP worker has no outbox");
        } catch (...) {
          // So a browser can read the error answer too (the answers below carry it).
          addTrackingCors(response);
          throw;
        }
        // Answered from the tracker's thread once the event cannot be lost; this worker goes
        // on to the next request meanwhile. The answer, written out here as bytes, goes
        // through this worker's outbox: the worker sends it itself (see http::Outbox).
        std::shared_ptr<Outbox> outbox = currentOutbox();
        const auto connection = response.headers().tryGet<Http::Header::Connection>();
        const bool keepAlive =
            connection && connection->control() == Http::ConnectionControl::KeepAlive;
        // The router's own pattern string, which lives as long as the server.
        const std::string* route = &Router::currentRoute();
        const auto started = std::chrono::steady_clock::now();
        // The services outlive every answer: the tracker, the website cache and the blocking
        // pool that call it are stopped before they go.
        auto answer = [services = services.get(), outbox, peer = std::weak_ptr(response.peer()),
                       version = request.version(), keepAlive, route,
                       started](ingest::TrackOutcome outcome, std::exception_ptr error) {
          Http::Code status = Http::Code::Accepted;
          std::string bytes;
          if (error) {
            const ErrorAnswer e = describeException(error, "POST /track");
            status = e.status;
            bytes = jsonResponseBytes(version, keepAlive, status, e.headers, true,
                                      errorBody(e.code, e.message));
          } else if (auto reason = droppedReason(outcome); !reason.empty()) {
            bytes = jsonResponseBytes(version, keepAlive, status,
                                      {{"X-MetricPulse-Dropped", std::move(reason)}}, true,
                                      kAcceptedBody);
          } else {
            bytes = acceptedBytes(version, keepAlive);
          }
          outbox->post(peer, std::move(bytes));
          services->httpMetrics.record(
              *route, static_cast<int>(status),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        };
        markDeferred();  // answered (and counted) by `answer`, here or on another thread
        if (claims) {
          // A server-side token: its account must still hold it. Cached, that is a lookup in
          // memory; otherwise the account is looked up on the blocking pool, not here.
          const auto standing = users::standing(services->accounts.peek(claims->sub), claims->ver);
          if (standing == users::TokenStanding::kRevoked) {
            answer(ingest::TrackOutcome::kIgnored,
                   std::make_exception_ptr(Unauthorized(
                       "the token is no longer valid (account deleted or password changed); "
                       "log in again")));
            return;
          }
          if (standing == users::TokenStanding::kUnsure) {
            const bool queued = services->blocking.submit([services, claims, answer, track] {
              try {
                requireLiveAccount(*services, *claims);
              } catch (...) {
                answer(ingest::TrackOutcome::kIgnored, std::current_exception());
                return;
              }
              submitTrack(*services, track, answer);
            });
            if (!queued) {
              answer(ingest::TrackOutcome::kIgnored,
                     std::make_exception_ptr(
                         Rejected(503, "unavailable", "the server is busy; try again shortly", 1)));
            }
            return;
          }
        }
        submitTrack(*services, track, answer);
      });
}

}  // namespace mp::http
