// POST /api/event (Plausible's tracker and Events API) and POST /api/send, /api/batch (Umami's):
// their payloads become /track bodies and take the same path, checks and answers.
#include "http/compat.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>

#include "http/common.hpp"
#include "http/response.hpp"
#include "http/track.hpp"
#include "ingest/compat.hpp"
#include "services.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace mp::http {
namespace Http = Pistache::Http;
using json = nlohmann::json;

namespace {

// The same error with the event's place in its request in front of the message.
std::exception_ptr placed(std::exception_ptr error, const std::string& where) {
  if (where.empty()) return error;
  try {
    std::rethrow_exception(error);
  } catch (const InvalidInput& e) {
    return std::make_exception_ptr(InvalidInput(e.field(), where + e.what()));
  } catch (const Rejected& e) {
    return std::make_exception_ptr(
        Rejected(e.status(), e.code(), where + e.what(), e.retryAfter()));
  } catch (...) {
    return std::current_exception();
  }
}

// The route and start of a request answered later, for its metrics.
struct Started {
  const std::string* route;  ///< the router's own pattern string, which lives as long as it
  std::chrono::steady_clock::time_point at;
  static Started now() { return {&Router::currentRoute(), std::chrono::steady_clock::now()}; }
};

// Several events of one request: each is tracked as /track tracks it, and the request is answered
// once all have their outcome, with the first error if there is one (the events accepted before
// it stay accepted: each is durable on its own).
class Fanout {
 public:
  using Success = std::function<void(Http::ResponseWriter&, std::size_t accepted)>;

  /// Takes over the response: the caller marks its request deferred (markDeferred()).
  Fanout(std::shared_ptr<daemon::Services> services, Http::ResponseWriter&& response,
         std::string context, const Started& started, std::size_t count, Success success)
      : services_(std::move(services)),
        writer_(std::make_shared<Http::ResponseWriter>(std::move(response))),
        context_(std::move(context)),
        started_(started),
        left_(count),
        total_(count),
        success_(std::move(success)) {}

  /// Why an event of the request is not kept, for X-MetricPulse-Dropped.
  void drop(const std::string& reason) {
    std::lock_guard lock(mutex_);
    if (std::find(dropped_.begin(), dropped_.end(), reason) == dropped_.end()) {
      dropped_.push_back(reason);
    }
  }

  /// Makes a website that is unknown or may not take the event a drop rather than an error, as
  /// long as another website of the request takes it (Plausible's list of domains).
  void tolerateRejectedWebsites() { tolerant_ = true; }

  /// Ends a request none of whose events is tracked (all of kinds nothing is kept of).
  static void none(const std::shared_ptr<Fanout>& self) {
    self->left_ = 0;
    self->finish();
  }

  /// The outcome of the event at `where` (empty for a request of one event).
  static void settle(const std::shared_ptr<Fanout>& self, const std::string& where,
                     ingest::TrackOutcome outcome, std::exception_ptr error) {
    bool last = false;
    {
      std::lock_guard lock(self->mutex_);
      if (error) {
        if (!self->error_) self->error_ = placed(error, where);
        if (self->tolerant_) {
          try {
            std::rethrow_exception(error);
          } catch (const Rejected& e) {
            if (e.code() == "domain_mismatch" || e.code() == "unknown_website") {
              self->rejected_.push_back(e.code());
            }
          } catch (...) {
          }
        }
      } else if (auto reason = droppedReason(outcome); !reason.empty()) {
        if (std::find(self->dropped_.begin(), self->dropped_.end(), reason) ==
            self->dropped_.end()) {
          self->dropped_.push_back(reason);
        }
      } else {
        ++self->accepted_;
      }
      if (error) ++self->failed_;
      last = --self->left_ == 0;
    }
    if (last) self->finish();
  }

  /// Tracks one /track body.
  static void track(const std::shared_ptr<Fanout>& self, ingest::TrackRequest request,
                    const std::string& where) {
    submitTrack(*self->services_, request,
                [self, where](ingest::TrackOutcome outcome, std::exception_ptr error) {
                  settle(self, where, outcome, error);
                });
  }

 private:
  void finish() {
    auto& writer = *writer_;
    // Rejected websites are drops when every failure was one and another website took the event.
    if (error_ && tolerant_ && failed_ < total_ && rejected_.size() == failed_) {
      for (const auto& code : rejected_) {
        if (std::find(dropped_.begin(), dropped_.end(), code) == dropped_.end()) {
          dropped_.push_back(code);
        }
      }
      error_ = nullptr;
    }
    if (error_) {
      sendException(writer, error_, context_);
    } else {
      if (!dropped_.empty()) addHeader(writer, "X-MetricPulse-Dropped", util::join(dropped_, ", "));
      success_(writer, accepted_);
    }
    services_->httpMetrics.record(
        *started_.route, static_cast<int>(writer.getResponseCode()),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_.at).count());
  }

  std::shared_ptr<daemon::Services> services_;
  std::shared_ptr<Http::ResponseWriter> writer_;
  std::string context_;
  Started started_;
  std::mutex mutex_;
  std::size_t left_;
  std::size_t total_;
  std::size_t accepted_ = 0;
  std::size_t failed_ = 0;
  bool tolerant_ = false;
  std::vector<std::string> rejected_;
  std::exception_ptr error_;
  std::vector<std::string> dropped_;
  Success success_;
};

void sendOk(Http::ResponseWriter& response, std::size_t) {
  addHeader(response, "Content-Type", "text/plain; charset=utf-8");
  response.send(Http::Code::Accepted, "ok");
}

// The Plausible event once every domain it names has its answer: one event per known website.
void trackPlausible(const std::shared_ptr<daemon::Services>& services,
                    Http::ResponseWriter&& response, const Started& started,
                    const ingest::TrackRequest& base, const ingest::PlausibleEvent& event,
                    const std::vector<db::Lookup<std::string>>& lookups) {
  std::vector<std::string> ids;
  std::vector<std::string> unknown;
  bool unsure = false;
  for (std::size_t i = 0; i < lookups.size(); ++i) {
    if (lookups[i].state == db::Known::kPresent) {
      ids.push_back(lookups[i].value);
    } else if (lookups[i].state == db::Known::kAbsent) {
      unknown.push_back(event.domains[i]);
    } else {
      unsure = true;
    }
  }
  if (ids.empty() || unsure) {
    const auto error =
        unsure ? std::make_exception_ptr(Rejected(
                     503, "unavailable", "the website could not be looked up; try again", 1))
               : std::make_exception_ptr(Rejected(404, "unknown_website",
                                                  "no website with the domain " + unknown.front()));
    auto fanout = std::make_shared<Fanout>(services, std::move(response), "POST /api/event",
                                           started, 1, sendOk);
    Fanout::settle(fanout, "", ingest::TrackOutcome::kIgnored, error);
    return;
  }
  auto fanout = std::make_shared<Fanout>(services, std::move(response), "POST /api/event", started,
                                         ids.size(), sendOk);
  if (!unknown.empty()) fanout->drop("unknown_website");
  if (ids.size() > 1) fanout->tolerateRejectedWebsites();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ingest::TrackRequest one = base;
    one.body = ingest::trackBody(event.body, ids[i]);
    Fanout::track(fanout, std::move(one), ids.size() > 1 ? "website " + ids[i] + ": " : "");
  }
}

// Waits for the domains the cache does not hold, then tracks: on the cache's thread.
struct DomainWait {
  std::mutex mutex;
  std::size_t left = 0;
  std::vector<db::Lookup<std::string>> lookups;
};

void addPlausibleRoute(Router& router, const std::shared_ptr<daemon::Services>& services) {
  addTrackingPreflight(router, "/api/event");
  router.add(
      Http::Method::Post, "/api/event",
      [services](const Http::Request& request, const RouteParams&, Http::ResponseWriter& response) {
        addTrackingCors(response);
        checkTrackingBody(request, *services);
        auto event =
            std::make_shared<const ingest::PlausibleEvent>(ingest::fromPlausible(request.body()));
        auto base = std::make_shared<const ingest::TrackRequest>(trackRequest(request, *services));
        const Started started = Started::now();
        markDeferred();  // answered (and counted) by the Fanout, here or on the cache's thread

        auto wait = std::make_shared<DomainWait>();
        wait->lookups.resize(event->domains.size());
        std::vector<std::size_t> missing;
        for (std::size_t i = 0; i < event->domains.size(); ++i) {
          wait->lookups[i] = services->domains.peek(event->domains[i]);
          if (wait->lookups[i].state == db::Known::kUnsure) missing.push_back(i);
        }
        if (missing.empty()) {
          trackPlausible(services, std::move(response), started, *base, *event, wait->lookups);
          return;
        }
        // Answered from the cache's thread once the domains are known.
        auto writer = std::make_shared<Http::ResponseWriter>(std::move(response));
        wait->left = missing.size();
        for (std::size_t i : missing) {
          const bool queued = services->domains.resolveAsync(
              event->domains[i], [services, writer, started, base, event, wait,
                                  i](const db::Lookup<std::string>& found) {
                {
                  std::lock_guard lock(wait->mutex);
                  wait->lookups[i] = found;
                  if (--wait->left != 0) return;
                }
                trackPlausible(services, std::move(*writer), started, *base, *event, wait->lookups);
              });
          if (!queued) {
            bool last = false;
            {
              std::lock_guard lock(wait->mutex);
              wait->lookups[i] = db::Lookup<std::string>{};  // unsure: answered 503
              last = --wait->left == 0;
            }
            if (last) {
              trackPlausible(services, std::move(*writer), started, *base, *event, wait->lookups);
            }
          }
        }
      });
}

// Umami's payloads: one (/api/send) or a list (/api/batch).
void trackUmami(const std::shared_ptr<daemon::Services>& services, const Http::Request& request,
                Http::ResponseWriter& response, bool batch) {
  addTrackingCors(response);
  checkTrackingBody(request, *services);
  json body = json::parse(request.body(), nullptr, false);
  if (body.is_discarded()) throw InvalidInput("body", "the body is not valid JSON (or not UTF-8)");
  if (batch && !body.is_array()) throw InvalidInput("body", "the body must be a JSON array");
  if (!batch && !body.is_object()) throw InvalidInput("body", "the body must be a JSON object");
  const json items = batch ? body : json::array({body});
  if (batch && items.empty()) throw InvalidInput("body", "the batch holds no events");

  // No token here: the address and agent recorded are the request's (server-side tracking with
  // the owner's token is /track's).
  const ingest::TrackRequest base = trackRequest(request, *services);
  std::vector<ingest::TrackRequest> tracked;
  std::vector<std::string> where;
  std::vector<std::string> skipped;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string at = batch ? "events[" + std::to_string(i) + "]." : "";
    const std::string place = batch ? "events[" + std::to_string(i) + "]: " : "";
    auto event = ingest::fromUmami(items[i], at);
    if (event.body.is_null()) {
      skipped.push_back(event.type);
      continue;
    }
    ingest::TrackRequest one = base;
    one.body = event.body.dump();
    // Everything the tracker checks of the event itself, before any event of the batch is
    // queued: a malformed event refuses the whole request.
    try {
      services->tracker->buildEvent(one);
    } catch (const ingest::Tracker::SiteUnresolved&) {
      // Looked up when it is tracked.
    } catch (...) {
      std::rethrow_exception(placed(std::current_exception(), place));
    }
    tracked.push_back(std::move(one));
    where.push_back(place);
  }
  const std::size_t size = items.size();
  auto success = [size](Http::ResponseWriter& rw, std::size_t accepted) {
    sendJson(rw, Http::Code::Accepted, {{"ok", true}, {"size", size}, {"accepted", accepted}});
  };
  const char* context = batch ? "POST /api/batch" : "POST /api/send";
  const Started started = Started::now();
  markDeferred();  // answered (and counted) by the Fanout
  if (tracked.empty()) {
    auto fanout =
        std::make_shared<Fanout>(services, std::move(response), context, started, 1, success);
    for (const auto& type : skipped) fanout->drop(type);
    Fanout::none(fanout);
    return;
  }
  auto fanout = std::make_shared<Fanout>(services, std::move(response), context, started,
                                         tracked.size(), success);
  for (const auto& type : skipped) fanout->drop(type);
  for (std::size_t i = 0; i < tracked.size(); ++i) Fanout::track(fanout, tracked[i], where[i]);
}

}  // namespace

void addCompatRoutes(Router& router, std::shared_ptr<daemon::Services> services) {
  addPlausibleRoute(router, services);
  addTrackingPreflight(router, "/api/send");
  router.add(
      Http::Method::Post, "/api/send",
      [services](const Http::Request& request, const RouteParams&, Http::ResponseWriter& response) {
        trackUmami(services, request, response, false);
      });
  addTrackingPreflight(router, "/api/batch");
  router.add(
      Http::Method::Post, "/api/batch",
      [services](const Http::Request& request, const RouteParams&, Http::ResponseWriter& response) {
        trackUmami(services, request, response, true);
      });
}

}  // namespace mp::http
