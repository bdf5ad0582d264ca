// The tracking path. Everything before the Redis call is in-process (site cache, regexes,
// GeoIP mmap, cached salt); each event's queue entry and live frame are serialised on the HTTP
// worker, and one thread sends every waiting event to Redis as one pipeline of plain commands
// (XADD, PUBLISH, one ZADD per website), preceded by one INCRBY per address when rate limiting
// is on. Plain commands rather than a Lua script: a script call cost Redis several times the
// commands it ran, and Redis shares the two cores with everything else.
#include "ingest/tracker.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "events/geoip.hpp"
#include "events/privacy.hpp"
#include "events/salts.hpp"
#include "events/user_agent.hpp"
#include "ingest/direct_writer.hpp"
#include "ingest/queue_entry.hpp"
#include "ingest/track_body.hpp"
#include "log/log.hpp"
#include "redis/keys.hpp"
#include "redis/pool.hpp"
#include "sites/site_cache.hpp"
#include "util/error.hpp"
#include "util/json_text.hpp"
#include "util/sched.hpp"
#include "util/time.hpp"
#include "util/url.hpp"
#include "util/utf8.hpp"
#include "util/uuid.hpp"

namespace mp::ingest {
using redis::Reply;
namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxUrl = 2048;
constexpr std::size_t kMaxEventType = 64;
constexpr std::size_t kMaxSessionId = 128;
constexpr std::size_t kMaxProps = 30;
using util::kDayMillis;
constexpr std::int64_t kAheadMillis = 5LL * 60 * 1000;
constexpr std::int64_t kServerSideBackMillis = 30 * kDayMillis;

// An optional string field, taken from the body: absent or null gives nullopt; another type is a
// 400.
std::optional<std::string> takeString(BodyValue& value, const char* field) {
  if (value.absentOrNull()) return std::nullopt;
  if (value.kind != BodyValue::Kind::kString) {
    throw InvalidInput(field, std::string(field) + " must be a string");
  }
  return std::move(value.text);
}

// An optional boolean field: absent or null gives nullopt; another type is a 400.
std::optional<bool> optBool(const BodyValue& value, const char* field) {
  if (value.absentOrNull()) return std::nullopt;
  if (value.kind != BodyValue::Kind::kBool) {
    throw InvalidInput(field, std::string(field) + " must be true or false");
  }
  return value.flag;
}

[[noreturn]] void refuseNul(const std::string& field) {
  throw InvalidInput(field, field + " must not contain NUL (\\u0000) characters");
}

// Everything the writer could later refuse or alter is refused here, so a 202 is never followed
// by a drop: PostgreSQL stores no NUL in text or jsonb (the body parser has already refused
// invalid UTF-8 and lone surrogates). Lengths are code points, counted in the same pass.
void checkText(const std::string& value, const char* field, std::size_t min, std::size_t max) {
  const std::size_t n = util::utf8LengthUnlessNul(value);
  if (n == util::kHoldsNul) refuseNul(field);
  if (n < min || n > max) {
    throw InvalidInput(field, std::string(field) + " must be " + std::to_string(min) + " to " +
                                  std::to_string(max) + " characters long");
  }
}

void checkNoNul(std::string_view value, const std::string& field) {
  if (value.find('\0') != std::string_view::npos) refuseNul(field);
}

std::int64_t parseTimestamp(const BodyValue& value, std::int64_t now, std::int64_t maxBack) {
  std::optional<std::int64_t> ms;
  if (value.kind == BodyValue::Kind::kString) {
    ms = util::parseRfc3339(value.text);
  } else if (value.kind == BodyValue::Kind::kInteger) {
    // An unsigned integer past 2^63 becomes negative, and is then refused as out of range.
    ms = static_cast<std::int64_t>(value.integer);
  } else if (value.kind == BodyValue::Kind::kFloat) {
    const double d = value.number;
    if (d > -1e15 && d < 1e15) ms = static_cast<std::int64_t>(d);
  }
  if (!ms) {
    throw InvalidInput("timestamp", "timestamp must be an RFC 3339 time or epoch milliseconds");
  }
  if (*ms < now - maxBack || *ms > now + kAheadMillis) {
    throw InvalidInput("timestamp", maxBack > kDayMillis
                                        ? "timestamp must lie within the last 30 days and at most "
                                          "5 minutes ahead"
                                        : "timestamp must lie within the last 24 hours and at most "
                                          "5 minutes ahead");
  }
  return *ms;
}

std::string checkedProps(const json& props) {
  if (!props.is_object()) throw InvalidInput("props", "props must be an object");
  if (props.size() > kMaxProps) {
    throw InvalidInput("props", "props may hold at most 30 keys");
  }
  for (const auto& [key, value] : props.items()) {
    checkNoNul(key, "props keys");
    if (value.is_string()) {
      checkNoNul(value.get_ref<const std::string&>(), "props." + key);
    } else if (!value.is_number() && !value.is_boolean()) {
      throw InvalidInput("props", "props." + key + " must be a string, number or boolean");
    }
  }
  return props.dump();
}

std::string referrerHostOf(const std::string& referrer, const std::string& siteDomain) {
  auto url = util::parseHttpUrl(referrer);
  if (!url) return {};
  if (util::hostMatchesDomain(url->host, siteDomain)) return {};  // internal navigation
  std::string host = url->host;
  if (host.rfind("www.", 0) == 0) host = host.substr(4);
  return host;
}

// The website, the event type, the page and the referrer.
void readPage(TrackBody& body, events::Event& e) {
  auto websiteId = takeString(body.websiteId, "websiteId");
  if (!websiteId) throw InvalidInput("websiteId", "websiteId is required");
  auto canonical = util::canonicalUuid(*websiteId);
  if (!canonical) throw InvalidInput("websiteId", "websiteId must be a UUID");
  e.websiteId = std::move(*canonical);

  e.eventType = takeString(body.eventType, "eventType").value_or("pageview");
  checkText(e.eventType, "eventType", 1, kMaxEventType);
  if (auto interactive = optBool(body.interactive, "interactive")) e.interactive = *interactive;

  auto url = takeString(body.url, "url");
  if (!url) throw InvalidInput("url", "url is required");
  checkText(*url, "url", 1, kMaxUrl);
  auto parsedUrl = util::parseHttpUrl(*url);
  if (!parsedUrl) throw InvalidInput("url", "url must be an absolute http or https URL");
  e.page = std::move(parsedUrl->path);
  if (auto hashMode = optBool(body.hashMode, "hashMode")) {
    // A single-page site that routes by fragment: "/#/about" is a page of its own.
    const auto hash = url->find('#');
    if (*hashMode && hash != std::string::npos && hash + 1 < url->size()) {
      e.page.append(*url, hash);
    }
  }
  e.hostname = std::move(parsedUrl->host);
  e.url = std::move(*url);

  e.referrer = takeString(body.referrer, "referrer").value_or("");
  checkText(e.referrer, "referrer", 0, kMaxUrl);
}

// The client's User-Agent, and its address, which is returned: the request's, or for a
// server-side event (sent with a token) those the body gives.
std::string readClient(TrackBody& body, const TrackRequest& request, events::Event& e) {
  std::string ip = request.clientIp;
  e.userAgent = request.userAgent;
  // The header is not checked by the JSON parser: it could carry bytes no text column takes.
  if (!util::isValidUtf8WithoutNul(e.userAgent)) {
    throw InvalidInput("User-Agent", "the User-Agent header must be UTF-8 without NUL characters");
  }
  if (request.tokenUserId) {
    if (auto bodyIp = takeString(body.ip, "ip")) {
      if (!events::parseIp(*bodyIp)) {
        throw InvalidInput("ip", "ip must be an IPv4 or IPv6 address");
      }
      ip = std::move(*bodyIp);
    }
    if (auto bodyUa = takeString(body.userAgent, "userAgent")) {
      checkNoNul(*bodyUa, "userAgent");
      e.userAgent = std::move(*bodyUa);
    }
  }
  return ip;
}

// The event's time (the request's unless the body gives one) and props.
void readTimeAndProps(const TrackBody& body, const TrackRequest& request, events::Event& e) {
  const bool serverSide = request.tokenUserId.has_value();
  e.tsMillis = request.nowMillis;
  if (!body.timestamp.absentOrNull()) {
    e.tsMillis = parseTimestamp(body.timestamp, request.nowMillis,
                                serverSide ? kServerSideBackMillis : kDayMillis);
  }
  if (!body.props.absentOrNull()) {
    if (body.props.kind != BodyValue::Kind::kObject) {
      throw InvalidInput("props", "props must be an object");
    }
    e.props = checkedProps(body.propsValue);
    if (body.inexactProp) {
      throw InvalidInput("props", "props." + *body.inexactProp +
                                      " is a number a double cannot hold exactly; send at most 15 "
                                      "significant digits within 1e-307 to 1e308, or a string");
    }
  }
}

// What a request says of its event, checked, before its website is looked at.
struct RequestedEvent {
  events::Event event;                   ///< the fields the request gives
  std::string ip;                        ///< the client's address
  std::optional<std::string> sessionId;  ///< the body's, if any
};

RequestedEvent readRequest(const TrackRequest& request) {
  TrackBody body = parseTrackBody(request.body);
  RequestedEvent requested;
  readPage(body, requested.event);
  requested.sessionId = takeString(body.sessionId, "sessionId");
  if (requested.sessionId) checkText(*requested.sessionId, "sessionId", 0, kMaxSessionId);
  requested.ip = readClient(body, request, requested.event);
  readTimeAndProps(body, request, requested.event);
  return requested;
}

}  // namespace

Tracker::Tracker(TrackerDeps deps, std::size_t maxWaiting) : deps_(deps), maxWaiting_(maxWaiting) {}

Tracker::~Tracker() {
  stop();
}

void Tracker::start() {
  std::lock_guard lock(mutex_);
  stopping_ = false;
  if (!thread_.joinable()) {
    thread_ = std::thread([this] {
      util::nameThread("mp-tracker");
      run();
    });
  }
}

void Tracker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

events::Event Tracker::buildEvent(const TrackRequest& request,
                                  const db::Lookup<sites::CachedSite>* resolved) {
  RequestedEvent requested = readRequest(request);
  const sites::CachedSite site = checkSite(request, requested.event, resolved);
  enrich(requested.event, site, requested.ip, requested.sessionId);
  return std::move(requested.event);
}

// The website and the hosts it may be tracked from: from the cache, or (for an id it does not
// hold) from the lookup track() had made first. Returns the website once the request may track it.
sites::CachedSite Tracker::checkSite(const TrackRequest& request, const events::Event& e,
                                     const db::Lookup<sites::CachedSite>* resolved) {
  db::Lookup<sites::CachedSite> found = resolved ? *resolved : deps_.sites.peek(e.websiteId);
  if (found.state == db::Known::kUnsure) throw SiteUnresolved{e.websiteId};
  if (found.state == db::Known::kAbsent) {
    throw Rejected(404, "unknown_website", "no website with this websiteId");
  }
  const sites::CachedSite& site = found.value;
  if (request.tokenUserId && *request.tokenUserId != site.userId) {
    throw Rejected(403, "forbidden", "the token does not belong to this website's owner");
  }
  if (!util::hostMatchesDomain(e.hostname, site.domain)) {
    throw Rejected(403, "domain_mismatch",
                   "the url's host is not " + site.domain + " or a sub-domain of it");
  }
  if (request.origin) {
    auto host = util::originHost(*request.origin);
    if (!host || !util::hostMatchesDomain(*host, site.domain)) {
      throw Rejected(403, "domain_mismatch",
                     "the Origin is not " + site.domain + " or a sub-domain of it");
    }
  }
  return std::move(found.value);
}

// What the request does not say: referrer host, browser, OS, device, country, visitor and
// session ids, the address as stored and the event's id. `ip` is the client's address.
void Tracker::enrich(events::Event& e, const sites::CachedSite& site, const std::string& ip,
                     const std::optional<std::string>& sessionId) {
  e.referrerHost = referrerHostOf(e.referrer, site.domain);

  const auto agent = deps_.userAgents.parse(e.userAgent);
  e.browser = agent.browser;
  e.os = agent.os;
  e.device = agent.device;
  if (deps_.geoip != nullptr) e.country = deps_.geoip->country(ip);

  const auto salts = deps_.salts.current();
  const std::chrono::sys_days day = std::chrono::floor<std::chrono::days>(
      std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(e.tsMillis)));
  e.visitorId = events::visitorId(salts.today, e.websiteId, ip, e.userAgent, day);
  e.sessionId =
      sessionId && !sessionId->empty() ? *sessionId : events::sessionIdFromVisitor(e.visitorId);
  e.ip = events::storedIp(ip, events::parseIpStorage(deps_.config.privacy.ipStorage));
  e.id = util::uuidV7();
}

std::optional<TrackOutcome> Tracker::track(const TrackRequest& request, TrackCallback done) {
  return track(request, std::move(done), nullptr);
}

std::optional<TrackOutcome> Tracker::track(const TrackRequest& request, TrackCallback done,
                                           const db::Lookup<sites::CachedSite>* resolved) {
  events::Event event;
  try {
    event = buildEvent(request, resolved);
  } catch (const SiteUnresolved& miss) {
    // A website this daemon does not hold (created a moment ago, perhaps on another daemon):
    // looked up on the cache's thread, never on this one, and the event is taken from there.
    const bool queued = deps_.sites.resolveAsync(
        miss.websiteId, [this, request, done](const db::Lookup<sites::CachedSite>& site) {
          if (site.state == db::Known::kUnsure) {
            ++stats_.rejectedUnavailable;
            done(TrackOutcome::kIgnored,
                 std::make_exception_ptr(Rejected(
                     503, "unavailable", "the website could not be looked up; try again", 5)));
            return;
          }
          try {
            if (auto outcome = track(request, done, &site)) done(*outcome, nullptr);
          } catch (...) {
            done(TrackOutcome::kIgnored, std::current_exception());
          }
        });
    if (!queued) {
      ++stats_.rejectedUnavailable;
      throw Rejected(503, "unavailable", "too many websites are being looked up; try again", 1);
    }
    return std::nullopt;
  } catch (const InvalidInput&) {
    ++stats_.rejectedInvalid;
    throw;
  } catch (const Rejected& e) {
    if (e.code() == "unknown_website") ++stats_.rejectedUnknownWebsite;
    if (e.code() == "domain_mismatch") ++stats_.rejectedDomainMismatch;
    if (e.code() == "forbidden") ++stats_.rejectedForbidden;
    throw;
  }
  if (event.device == "bot" && deps_.config.ingest.filterBots) {
    ++stats_.bots;
    return TrackOutcome::kBot;
  }
  if (request.doNotTrack && deps_.config.privacy.respectDoNotTrack) {
    ++stats_.ignoredDnt;
    return TrackOutcome::kIgnored;
  }
  // Serialised here, on the HTTP worker, so the one sending thread only concatenates.
  Pending pending;
  pending.text = events::toQueueJson(event);
  pending.publishAt = static_cast<std::uint32_t>(pending.text.size());
  redis::appendCommand(pending.text, {"PUBLISH", redis::eventsChannel(event.websiteId),
                                      events::liveFeedFrame(event)});
  pending.websiteAt = static_cast<std::uint32_t>(pending.text.size());
  pending.text += event.websiteId;
  pending.sessionAt = static_cast<std::uint32_t>(pending.text.size());
  pending.text += event.sessionId;
  if (deps_.config.ingest.rateLimitPerMinute > 0) pending.clientIp = request.clientIp;
  pending.nowMillis = request.nowMillis;
  pending.tsMillis = event.tsMillis;
  pending.done = std::move(done);
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || waiting_.size() >= maxWaiting_) {
      ++stats_.rejectedUnavailable;
      throw Rejected(503, "unavailable", "too many events are waiting to be queued; try again", 1);
    }
    waiting_.push_back(std::move(pending));
  }
  wake_.notify_one();
  return std::nullopt;
}

void Tracker::run() {
  constexpr std::size_t kMaxBatch = 512;
  // Every tracked event waits for this thread. At a light load it runs as soon as it is woken
  // (a wake-up left to wait for another thread's time slice was most of the live feed's tail,
  // bench/README.md); once its batches grow, it yields to the HTTP workers instead, so that the
  // batches grow while they run on: measured, more requests a second and a shorter tail.
  util::BatchSizePolicy policy;
  for (;;) {
    std::vector<Pending> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
      if (waiting_.empty()) return;  // stopping, and everything was sent
      while (!waiting_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(waiting_.front()));
        waiting_.pop_front();
      }
    }
    switch (policy.observe(batch.size())) {
      case util::BatchSizePolicy::Change::ToThroughput:
        util::preferThroughput();
        break;
      case util::BatchSizePolicy::Change::ToLatency:
        util::preferLatency();
        break;
      case util::BatchSizePolicy::Change::None:
        break;
    }
    sendBatch(batch);
  }
}

// Rate limit: one INCRBY per address and minute for all of its events in the batch (the counter
// counts refused events too, as a per-event INCR would). Returns, per event, whether it may be
// queued. Throws RedisError.
std::vector<bool> Tracker::admit(redis::Client& client, const std::vector<Pending>& batch) {
  const std::int64_t limit = deps_.config.ingest.rateLimitPerMinute;
  std::vector<bool> allowed(batch.size(), true);
  if (limit <= 0) return allowed;
  std::unordered_map<std::string, std::vector<std::size_t>> byKey;
  std::vector<std::string> order;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto key = redis::rateLimitKey(batch[i].clientIp, batch[i].nowMillis / 1000 / 60);
    auto [it, inserted] = byKey.try_emplace(std::move(key));
    if (inserted) order.push_back(it->first);
    it->second.push_back(i);
  }
  std::string resp;
  const std::string ttl = std::to_string(redis::kRateLimitTtl.count());
  for (const auto& key : order) {
    redis::appendCommand(resp, {"INCRBY", key, std::to_string(byKey[key].size())});
    redis::appendCommand(resp, {"EXPIRE", key, ttl});
  }
  const auto replies = client.pipelineFormatted(resp, order.size() * 2);
  for (std::size_t k = 0; k < order.size(); ++k) {
    const auto& events = byKey[order[k]];
    const Reply& reply = replies[2 * k];
    if (!reply.isInteger()) throw RedisError("INCRBY answered " + reply.debugString());
    // The counter now includes this batch: the first (limit - earlier) of its events pass.
    const std::int64_t earlier = reply.integer() - static_cast<std::int64_t>(events.size());
    const std::int64_t pass =
        std::clamp<std::int64_t>(limit - earlier, 0, static_cast<std::int64_t>(events.size()));
    for (std::size_t j = static_cast<std::size_t>(pass); j < events.size(); ++j) {
      allowed[events[j]] = false;
    }
  }
  return allowed;
}

// Two round trips at most per batch (rate limit, then the writes), however many events wait: the
// queue entries, each event's PUBLISH (live feed) and the realtime sets go as one pipeline.
void Tracker::sendBatch(std::vector<Pending>& batch) {
  std::vector<bool> allowed;
  std::vector<Reply> replies;
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::vector<std::size_t> entryOf(batch.size(), kNone);  // index of the XADD reply of event i
  try {
    auto lease = deps_.redis.acquire();
    allowed = admit(*lease, batch);
    std::string resp;
    std::size_t bytes = 0;
    for (const auto& p : batch) bytes += 2 * p.queued().size() + p.publish().size() + 1;
    resp.reserve(bytes + 1024);
    // The XADDs lead, so the reply to XADD n is replies[n].
    std::size_t commands = appendQueueEntries(resp, batch, allowed, entryOf);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (!allowed[i]) continue;
      resp.append(batch[i].publish());
      ++commands;
    }
    commands += appendRealtime(resp, batch, allowed);
    // With replicas to wait for, the answers wait until they hold the batch (or the time-out
    // passes): a replica promoted after the master's loss then holds every event answered 202.
    const int replicas = deps_.config.redis.waitReplicas;
    const std::string replicasText = std::to_string(replicas);
    const std::string waitMs = std::to_string(deps_.config.redis.timeout.count() / 2);
    if (replicas > 0) {
      redis::appendCommand(resp, {"WAIT", replicasText, waitMs});
      ++commands;
    }
    replies = lease->pipelineFormatted(resp, commands);
    if (replicas > 0 && !replies.empty()) {
      const Reply& acked = replies.back();
      if (!acked.isInteger() || acked.integer() < replicas) {
        if (stats_.unreplicatedBatches.fetch_add(1) % 1000 == 0) {
          log::get("ingest")->warn(
              "redis: fewer than {} replica(s) confirmed a batch within {} ms; its events are "
              "accepted, held by the master only (counted in mp_redis_unreplicated_batches_total)",
              replicas, waitMs);
        }
      }
    }
    if (redisDown_.exchange(false))
      log::get("ingest")->info("redis is back; queueing events again");
  } catch (const std::exception& e) {
    onRedisFailure(batch, allowed, e);
    return;
  }
  answerBatch(batch, allowed, replies, entryOf);
}

// The events go into stream entries of up to kEventsPerEntry each (one XADD per entry: Redis's
// work per XADD, XREADGROUP, XACK and XDEL is mostly per entry, not per byte). Notes in entryOf
// which XADD holds each event; returns the number of XADDs.
std::size_t Tracker::appendQueueEntries(std::string& resp, const std::vector<Pending>& batch,
                                        const std::vector<bool>& allowed,
                                        std::vector<std::size_t>& entryOf) {
  QueueEntryEncoder entries(resp);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (allowed[i]) entryOf[i] = entries.add(batch[i].queued());
  }
  return entries.finish();
}

// Per website, in the order of its first event, one ZADD of its sessions, and every
// kRealtimeTrimInterval the trim and expiry of its realtime set. Returns the number of commands.
std::size_t Tracker::appendRealtime(std::string& resp, const std::vector<Pending>& batch,
                                    const std::vector<bool>& allowed) {
  std::unordered_map<std::string_view, std::vector<const Pending*>> sessions;
  std::vector<std::string_view> sites;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!allowed[i]) continue;
    auto [it, inserted] = sessions.try_emplace(batch[i].websiteId());
    if (inserted) sites.push_back(it->first);
    it->second.push_back(&batch[i]);
  }
  std::size_t commands = 0;
  for (const auto site : sites) commands += appendSessions(resp, sessions[site]);
  return commands;
}

// One website's ZADD of the sessions of `members` (events of that website), scored by the time of
// their event in seconds, and its trim when due. Returns the number of commands.
//
// An event's time is its own: one sent with a timestamp hours old (server-side tracking,
// a backfill) does not make its session active now, and is left out when it lies before the
// realtime window (its score could only lower the session's, whose newer events put it there).
// A time ahead of the arrival counts as the arrival, so no session stays active for longer.
std::size_t Tracker::appendSessions(std::string& resp, const std::vector<const Pending*>& members) {
  const std::string websiteId(members.front()->websiteId());
  const std::string key = redis::realtimeKey(websiteId);
  std::vector<std::string> scores;
  scores.reserve(members.size());  // never reallocated: zadd views its strings
  std::vector<std::string_view> zadd{"ZADD", key};
  std::int64_t newest = 0;
  for (const Pending* p : members) {
    const std::int64_t arrived = p->nowMillis / 1000;
    newest = std::max(newest, arrived);
    const std::int64_t at = std::min(p->tsMillis, p->nowMillis) / 1000;
    if (at < arrived - redis::kRealtimeWindow.count()) continue;
    scores.push_back(std::to_string(at));
    zadd.push_back(scores.back());
    zadd.push_back(p->sessionId());
  }
  std::size_t commands = 0;
  if (zadd.size() > 2) {
    redis::appendCommand(resp, zadd);
    commands = 1;
  }
  auto last = trimmed_.find(websiteId);
  if (last == trimmed_.end()) last = trimmed_.emplace(websiteId, 0).first;
  if (newest - last->second < redis::kRealtimeTrimInterval.count()) return commands;
  redis::appendCommand(resp, {"ZREMRANGEBYSCORE", key, "-inf",
                              std::to_string(newest - redis::kSessionTimeout.count())});
  redis::appendCommand(resp, {"EXPIRE", key, std::to_string(redis::kSessionTimeout.count())});
  last->second = newest;
  return commands + 2;
}

// The pipeline's answers: each event is queued when the XADD of its entry was, stored directly
// when Redis refused that entry, or refused when over the rate limit.
void Tracker::answerBatch(std::vector<Pending>& batch, const std::vector<bool>& allowed,
                          const std::vector<Reply>& replies,
                          const std::vector<std::size_t>& entryOf) {
  bool refusedLogged = false;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    Pending& p = batch[i];
    try {
      if (!allowed[i]) {
        refuseRateLimited(p);
        continue;
      }
      const Reply& reply = replies[entryOf[i]];
      if (reply.isString()) {
        ++stats_.queued;
        p.done(TrackOutcome::kQueued, nullptr);
      } else {
        // An error reply (OOM, a read-only replica…): the entry was not queued.
        if (!refusedLogged) {
          log::get("ingest")->warn("redis refused a queue entry ({}); storing its events directly",
                                   reply.debugString());
          refusedLogged = true;
        }
        fallBack(p);
      }
    } catch (const std::exception& e) {
      log::get("ingest")->error("answering a tracked event failed: {}", e.what());
    }
  }
}

// The batch could not be sent (or its rate limit not be checked, when `allowed` is empty): its
// events go to PostgreSQL directly, but those already over the rate limit.
void Tracker::onRedisFailure(std::vector<Pending>& batch, const std::vector<bool>& allowed,
                             const std::exception& error) {
  if (!redisDown_.exchange(true)) {
    log::get("ingest")->warn("redis unavailable ({}); storing events directly in PostgreSQL",
                             error.what());
  }
  // Trims scheduled in the failed pipeline are due again.
  trimmed_.clear();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (allowed.empty() || allowed[i]) {
      fallBack(batch[i]);
    } else {
      refuseRateLimited(batch[i]);
    }
  }
}

void Tracker::refuseRateLimited(Pending& pending) {
  ++stats_.rejectedRateLimited;
  const std::int64_t nowSeconds = pending.nowMillis / 1000;
  pending.done(TrackOutcome::kQueued,
               std::make_exception_ptr(Rejected(429, "rate_limited",
                                                "too many events from this address; slow down",
                                                60 - nowSeconds % 60)));
}

// The queue is out of reach: write straight to PostgreSQL; the answer waits for COMMIT.
void Tracker::fallBack(Pending& pending) {
  auto done = std::move(pending.done);
  events::Event event;
  try {
    event = events::fromQueueJson(pending.queued());  // written by toQueueJson above: cannot fail
  } catch (const std::exception& e) {
    log::get("ingest")->error("an event's own queue JSON did not read back: {}", e.what());
    ++stats_.rejectedUnavailable;
    done(TrackOutcome::kStored,
         std::make_exception_ptr(Rejected(503, "unavailable", "the event could not be stored", 5)));
    return;
  }
  deps_.direct.writeAsync(std::move(event), [this, done](bool stored) {
    if (stored) {
      ++stats_.storedDirect;
      done(TrackOutcome::kStored, nullptr);
      return;
    }
    ++stats_.rejectedUnavailable;
    done(TrackOutcome::kStored,
         std::make_exception_ptr(Rejected(
             503, "unavailable", "neither the queue nor the database can take events now", 5)));
  });
}

}  // namespace mp::ingest
