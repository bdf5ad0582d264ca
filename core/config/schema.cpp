// The configuration key table: one row per key with its type, default, range, member and help.
#include "config/schema.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <sstream>
#include <type_traits>

namespace mp::config {
namespace {

using enum KeyType;

/// The member `field` of the section `section` of a Config, as a key's target.
template <auto section, auto field>
consteval Member member() {
  using T = std::remove_cvref_t<decltype(std::declval<Config&>().*section.*field)>;
  return MemberRef<T>{[](Config& c) -> T& { return c.*section.*field; },
                      [](const Config& c) -> const T& { return c.*section.*field; }};
}

constexpr std::int64_t kMinute = 60;
constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kDay = 86400;

constexpr std::string_view kIpStorages[] = {"full", "truncated", "none"};
constexpr std::string_view kLogLevels[] = {"trace", "debug",    "info", "warn",
                                           "error", "critical", "off"};
constexpr std::string_view kLogFormats[] = {"auto", "text", "journal"};
constexpr std::string_view kCookieSecure[] = {"auto", "always", "never"};
constexpr std::string_view kStartTls[] = {"always", "when-offered", "never"};

using C = Config;

constexpr Limits range(std::int64_t min, std::int64_t max) {
  return {min, max, {}};
}
constexpr Limits oneOf(std::span<const std::string_view> words) {
  return {0, 0, words};
}
constexpr Limits kAny{};         // any value of the type
constexpr Default kEmptyList{};  // lists default to empty

// Every key, one row each, in the order of the default configuration file:
//   section, name, type, default, limits, member, help[, environment variable]
// Defaults and ranges are in the key's own terms: seconds for durations, milliseconds for the
// *_ms integers. --print-defaults prints the help, then an integer's range and the variable.
// Checks beyond a key's type and range (host:port, URLs, CIDRs, origins, keys that must differ)
// are the cross-checks in config.cpp, made once the file and the environment are read.
constexpr KeyDef kKeys[] = {
    // [http]
    {"http", "listen", kString, "127.0.0.1:8080", kAny, member<&C::http, &HttpConfig::listen>(),
     "Address and port of the HTTP API (host:port, [v6]:port).", "MP_HTTP_LISTEN"},
    {"http", "threads", kInt, 2, range(1, 256), member<&C::http, &HttpConfig::threads>(),
     "HTTP worker threads; the number of cores is a good start."},
    {"http", "max_body_bytes", kInt, 16384, range(1024, 1048576),
     member<&C::http, &HttpConfig::maxBodyBytes>(),
     "Largest request body accepted; larger bodies get 413."},
    {"http", "trusted_proxies", kStringList, kEmptyList, kAny,
     member<&C::http, &HttpConfig::trustedProxies>(),
     "Addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed; it is "
     "read from the right, and the client is the first entry not listed here."},
    // [websocket]
    {"websocket", "listen", kString, "127.0.0.1:8081", kAny,
     member<&C::websocket, &WebSocketConfig::listen>(),
     "Address and port of the WebSocket live feed (path /ws).", "MP_WS_LISTEN"},
    {"websocket", "threads", kInt, 0, range(0, 64),
     member<&C::websocket, &WebSocketConfig::threads>(),
     "Event loops (threads) the live feed's connections are spread over, each with its own "
     "Redis subscription to the websites its dashboards follow; 0 gives one per CPU core, at "
     "most 4."},
    {"websocket", "allowed_origins", kStringList, kEmptyList, kAny,
     member<&C::websocket, &WebSocketConfig::allowedOrigins>(),
     "Origins (scheme://host[:port]) allowed to connect; empty allows any."},
    {"websocket", "max_clients", kInt, 10000, range(1, 1000000),
     member<&C::websocket, &WebSocketConfig::maxClients>(),
     "Most WebSocket clients served at once."},
    {"websocket", "max_handshakes", kInt, 256, range(1, 1000000),
     member<&C::websocket, &WebSocketConfig::maxHandshakes>(),
     "Most connections still sending their upgrade request; more are refused with 503, so "
     "clients that never log in cannot crowd out dashboards."},
    {"websocket", "max_clients_per_address", kInt, 64, range(0, 1000000),
     member<&C::websocket, &WebSocketConfig::maxClientsPerAddress>(),
     "Most connections from one client address (IPv6: one /64); more are refused with 429. "
     "0 turns the limit off. Peers in http.trusted_proxies are not limited."},
    {"websocket", "handshake_timeout", kDuration, 5, range(1, 60),
     member<&C::websocket, &WebSocketConfig::handshakeTimeout>(),
     "A connection that has not completed its upgrade request by then is closed."},
    {"websocket", "max_output_bytes", kInt, 1048576, range(65536, 67108864),
     member<&C::websocket, &WebSocketConfig::maxOutputBytes>(),
     "Unsent bytes queued for one client before it is disconnected."},
    {"websocket", "ping_interval", kDuration, 30, range(1, kHour),
     member<&C::websocket, &WebSocketConfig::pingInterval>(), "How often idle clients are pinged."},
    {"websocket", "idle_timeout", kDuration, 90, range(5, kDay),
     member<&C::websocket, &WebSocketConfig::idleTimeout>(),
     "A client silent for this long (no pong) is closed."},
    // [database]
    {"database", "url", kString, "postgresql:///metricpulse", kAny,
     member<&C::database, &DatabaseConfig::url>(),
     "PostgreSQL connection URL (postgresql://user:password@host:port/db). Several hosts with "
     "target_session_attrs=read-write follow a primary through a failover.",
     "MP_DATABASE_URL"},
    {"database", "read_url", kString, "", kAny, member<&C::database, &DatabaseConfig::readUrl>(),
     "PostgreSQL connection URL the stats answers are read from (a streaming replica; "
     "target_session_attrs=prefer-standby suits several hosts); empty: url. Answers of a "
     "replica lag it by its replay delay.",
     "MP_DATABASE_READ_URL"},
    {"database", "pool_size", kInt, 8, range(1, 512),
     member<&C::database, &DatabaseConfig::poolSize>(),
     "PostgreSQL connections held by one process."},
    {"database", "connect_timeout", kDuration, 5, range(1, 5 * kMinute),
     member<&C::database, &DatabaseConfig::connectTimeout>(),
     "Time allowed to open a PostgreSQL connection."},
    // [redis]
    {"redis", "url", kString, "redis://127.0.0.1:6379", kAny,
     member<&C::redis, &RedisConfig::url>(),
     "Redis URL (redis://[:password@]host:port[/db] or unix:///path.sock).", "MP_REDIS_URL"},
    {"redis", "timeout_ms", kInt, 2000, range(50, 60000),
     member<&C::redis, &RedisConfig::timeout>(),
     "Connect and command timeout for Redis, in milliseconds."},
    {"redis", "sentinels", kStringList, kEmptyList, kAny,
     member<&C::redis, &RedisConfig::sentinels>(),
     "Redis Sentinels (host:port) asked for the master's address at every connect; empty: "
     "url names the server. With Sentinel, url gives the password and database only."},
    {"redis", "master_name", kString, "", kAny, member<&C::redis, &RedisConfig::masterName>(),
     "The master's name the sentinels monitor (needed with sentinels)."},
    {"redis", "wait_replicas", kInt, 0, range(0, 5),
     member<&C::redis, &RedisConfig::waitReplicas>(),
     "Replicas that must have each tracked event (Redis WAIT, up to timeout_ms) before it is "
     "answered 202, so a replica promoted after the master's loss holds every accepted event; "
     "an event the replicas did not confirm in time is still accepted, and counted in /metrics."},
    // [auth]
    {"auth", "jwt_secret_file", kString, "/etc/metricpulse/jwt.secret", kAny,
     member<&C::auth, &AuthConfig::jwtSecretFile>(),
     "File holding the token signing secret (at least 32 bytes).", "MP_JWT_SECRET_FILE"},
    {"auth", "token_ttl", kDuration, 24 * kHour, range(kMinute, 90 * kDay),
     member<&C::auth, &AuthConfig::tokenTtl>(), "Lifetime of an access token."},
    {"auth", "allow_signup", kBool, true, kAny, member<&C::auth, &AuthConfig::allowSignup>(),
     "Whether POST /auth/signup is open; when false, use mpctl user add."},
    {"auth", "bcrypt_cost", kInt, 12, range(4, 31), member<&C::auth, &AuthConfig::bcryptCost>(),
     "bcrypt work factor for stored passwords."},
    {"auth", "login_max_failures", kInt, 10, range(1, 10000),
     member<&C::auth, &AuthConfig::loginMaxFailures>(),
     "Failed logins for one email within login_window before 429."},
    {"auth", "login_max_failures_per_address", kInt, 50, range(1, 100000),
     member<&C::auth, &AuthConfig::loginMaxFailuresPerAddress>(),
     "Failed logins from one client address (any email; IPv6 by its /64) within "
     "login_window before 429; higher than per email, as offices share an address."},
    {"auth", "login_window", kDuration, 15 * kMinute, range(10, kDay),
     member<&C::auth, &AuthConfig::loginWindow>(), "Window over which failed logins are counted."},
    // [ingest]
    {"ingest", "rate_limit_per_minute", kInt, 600, range(0, 10000000),
     member<&C::ingest, &IngestConfig::rateLimitPerMinute>(),
     "Tracked events per client address (IPv6 by its /64) per minute; 0 turns it off."},
    {"ingest", "filter_bots", kBool, true, kAny, member<&C::ingest, &IngestConfig::filterBots>(),
     "Drop events from known bots and crawlers (still answered 202)."},
    {"ingest", "batch_size", kInt, 2000, range(1, 100000),
     member<&C::ingest, &IngestConfig::batchSize>(),
     "Events written to PostgreSQL in one batch (about this many, twice at most)."},
    {"ingest", "flush_interval_ms", kInt, 200, range(10, 60000),
     member<&C::ingest, &IngestConfig::flushInterval>(),
     "Longest wait for a batch to fill, in milliseconds."},
    {"ingest", "writers", kInt, 1, range(1, 64), member<&C::ingest, &IngestConfig::writers>(),
     "Queue writer threads per daemon."},
    {"ingest", "claim_idle", kDuration, 30, range(1, kHour),
     member<&C::ingest, &IngestConfig::claimIdle>(),
     "Queued events a crashed daemon had taken are written by another after being idle this long."},
    // [aggregation]
    {"aggregation", "enabled", kBool, true, kAny,
     member<&C::aggregation, &AggregationConfig::enabled>(),
     "Run the aggregation job inside the daemon (off when a timer runs it)."},
    {"aggregation", "interval", kDuration, kHour, range(kMinute, kDay),
     member<&C::aggregation, &AggregationConfig::interval>(),
     "How often the in-daemon aggregation runs."},
    {"aggregation", "refresh_interval", kDuration, kMinute, range(1, kHour),
     member<&C::aggregation, &AggregationConfig::refreshInterval>(),
     "How often the in-daemon aggregation brings the stored visits of days that are not final "
     "up to date between runs (the stats are exact either way; it keeps them fast). A question "
     "that finds 1000 or more events written since has its website's brought up to date at "
     "once, at most every quarter of a second."},
    // [cache]
    {"cache", "ttl_seconds", kInt, 30, range(0, 86400),
     member<&C::cache, &CacheConfig::ttlSeconds>(),
     "Seconds a stats answer is cached in Redis; 0 turns caching off."},
    // [privacy]
    {"privacy", "ip_storage", kEnum, "truncated", oneOf(kIpStorages),
     member<&C::privacy, &PrivacyConfig::ipStorage>(),
     "What is kept of client addresses: full, truncated (IPv4 /24, IPv6 /48) or none."},
    {"privacy", "respect_do_not_track", kBool, false, kAny,
     member<&C::privacy, &PrivacyConfig::respectDoNotTrack>(),
     "Drop events of browsers that send DNT: 1."},
    // [geoip]
    {"geoip", "database", kString, "", kAny, member<&C::geoip, &GeoipConfig::database>(),
     "Path of a GeoLite2/GeoIP2/DB-IP country or city .mmdb; empty turns it off."},
    // [retention]
    {"retention", "days", kInt, 0, range(0, 36500), member<&C::retention, &RetentionConfig::days>(),
     "Raw events older than this many days are pruned; 0 keeps them forever."},
    // [log]
    {"log", "level", kEnum, "info", oneOf(kLogLevels), member<&C::log, &LogConfig::level>(),
     "Least severe messages logged; re-read on SIGHUP.", "MP_LOG_LEVEL"},
    {"log", "format", kEnum, "auto", oneOf(kLogFormats), member<&C::log, &LogConfig::format>(),
     "text has timestamps; journal leaves them to journald and starts each line with its "
     "syslog priority (<3> error, <4> warning, <6> info, <7> debug); auto picks by "
     "JOURNAL_STREAM."},
    // [metrics]
    {"metrics", "listen", kString, "127.0.0.1:9464", kAny,
     member<&C::metrics, &MetricsConfig::listen>(),
     "Address and port of GET /metrics (host:port), apart from the public API; "
     "empty turns it off.",
     "MP_METRICS_LISTEN"},
    // [web]
    {"web", "root", kString, "/usr/share/metricpulse/web", kAny,
     member<&C::web, &WebConfig::root>(),
     "Directory holding the dashboard (dashboard/) and the tracker script (tracker.js), read at "
     "start; empty serves neither.",
     "MP_WEB_ROOT"},
    {"web", "tracker_path", kString, "/js/script.js", kAny,
     member<&C::web, &WebConfig::trackerPath>(),
     "URL path of the tracker script (also served as /script.js and with Plausible's "
     "extension names, e.g. /js/script.outbound-links.js); choose another name where block "
     "lists match the usual ones."},
    {"web", "ws_url", kString, "", kAny, member<&C::web, &WebConfig::wsUrl>(),
     "Live-feed URL the dashboard connects to (ws:// or wss://), e.g. "
     "\"wss://stats.example.com/ws\" behind a proxy; empty: ws://<the page's host>:<the port of "
     "websocket.listen>/ws."},
    {"web", "cookie_secure", kEnum, "auto", oneOf(kCookieSecure),
     member<&C::web, &WebConfig::cookieSecure>(),
     "Whether the dashboard's session cookie is marked Secure: auto marks it when the request "
     "came over HTTPS (X-Forwarded-Proto: https from one of http.trusted_proxies)."},
    // [email]
    {"email", "url", kString, "", kAny, member<&C::email, &EmailConfig::url>(),
     "SMTP server for the email reports: smtp://host[:port] (port 25 or 587, STARTTLS as "
     "email.starttls says) or smtps://host[:port] (TLS from the start, port 465); empty: no "
     "email is sent.",
     "MP_EMAIL_URL"},
    {"email", "from", kString, "", kAny, member<&C::email, &EmailConfig::from>(),
     "Sender of the reports, \"reports@example.com\" or \"MetricPulse <reports@example.com>\"; "
     "needed with email.url.",
     "MP_EMAIL_FROM"},
    {"email", "username", kString, "", kAny, member<&C::email, &EmailConfig::username>(),
     "User name for SMTP AUTH; empty: no authentication."},
    {"email", "password_file", kString, "", kAny, member<&C::email, &EmailConfig::passwordFile>(),
     "File holding the SMTP password (its first line), readable by mpctl's user; needed with "
     "email.username.",
     "MP_EMAIL_PASSWORD_FILE"},
    {"email", "starttls", kEnum, "always", oneOf(kStartTls),
     member<&C::email, &EmailConfig::starttls>(),
     "TLS on an smtp:// server: always (STARTTLS or fail), when-offered (only if the server "
     "offers it: open to a downgrade, for trusted networks) or never (plain text, e.g. a relay "
     "on localhost)."},
    {"email", "ca_file", kString, "", kAny, member<&C::email, &EmailConfig::caFile>(),
     "CA certificates (PEM) the SMTP server's certificate is checked against; empty: the "
     "system's. The certificate is always verified."},
    {"email", "timeout", kDuration, 30, range(1, 600), member<&C::email, &EmailConfig::timeout>(),
     "How long one message may take to send, connection included."},
    {"email", "dashboard_url", kString, "", kAny, member<&C::email, &EmailConfig::dashboardUrl>(),
     "The dashboard's address as readers reach it (https://stats.example.com), for the links in "
     "the reports; empty: no links."},
};

// Whether the member a key lands in can hold a value of its type.
constexpr bool memberFitsType(const KeyDef& key) {
  const Member& m = key.target;
  switch (key.type) {
    case kString:
    case kEnum:
      return std::holds_alternative<MemberRef<std::string>>(m);
    case kBool:
      return std::holds_alternative<MemberRef<bool>>(m);
    case kStringList:
      return std::holds_alternative<MemberRef<std::vector<std::string>>>(m);
    case kInt:  // *_ms keys are integers stored in milliseconds
      return std::holds_alternative<MemberRef<int>>(m) ||
             std::holds_alternative<MemberRef<std::int64_t>>(m) ||
             std::holds_alternative<MemberRef<std::chrono::milliseconds>>(m);
    case kDuration:
      return std::holds_alternative<MemberRef<std::chrono::seconds>>(m);
  }
  return false;
}
static_assert(std::ranges::all_of(kKeys, memberFitsType),
              "a key's member cannot hold a value of its type");

template <class T>
T& memberOf(const KeyDef& key, Config& c) {
  return std::get<MemberRef<T>>(key.target).get(c);
}

template <class T>
const T& memberOf(const KeyDef& key, const Config& c) {
  return std::get<MemberRef<T>>(key.target).cget(c);
}

template <class T>
constexpr bool kIsDuration = false;
template <class Rep, class Period>
constexpr bool kIsDuration<std::chrono::duration<Rep, Period>> = true;

// Stores the number of a kInt key (in the member's own unit) or the seconds of a kDuration key.
void storeNumber(const KeyDef& key, Config& c, std::int64_t number) {
  std::visit(
      [&](const auto& ref) {
        auto& slot = ref.get(c);
        using T = std::remove_cvref_t<decltype(slot)>;
        if constexpr (kIsDuration<T>) {
          slot = key.type == kDuration ? std::chrono::duration_cast<T>(std::chrono::seconds(number))
                                       : T(number);
        } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          slot = static_cast<T>(number);
        }
      },
      key.target);
}

// The number of a kInt key (in the member's own unit) or the seconds of a kDuration key.
std::int64_t numberOf(const KeyDef& key, const Config& c) {
  return std::visit(
      [&](const auto& ref) -> std::int64_t {
        const auto& slot = ref.cget(c);
        using T = std::remove_cvref_t<decltype(slot)>;
        if constexpr (kIsDuration<T>) {
          return key.type == kDuration
                     ? std::chrono::duration_cast<std::chrono::seconds>(slot).count()
                     : slot.count();
        } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          return slot;
        } else {
          return 0;
        }
      },
      key.target);
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

std::string durationText(std::int64_t seconds) {
  if (seconds != 0 && seconds % 86400 == 0) return std::to_string(seconds / 86400) + "d";
  if (seconds != 0 && seconds % 3600 == 0) return std::to_string(seconds / 3600) + "h";
  if (seconds != 0 && seconds % 60 == 0) return std::to_string(seconds / 60) + "m";
  return std::to_string(seconds) + "s";
}

std::string typeError(std::string_view want, const Value& v) {
  return "expected " + std::string(want) + ", got " + v.typeName;
}

}  // namespace

std::string KeyDef::apply(Config& config, const Value& value) const {
  switch (type) {
    case kString:
      if (value.kind != Value::Kind::kString) return typeError("a string", value);
      memberOf<std::string>(*this, config) = value.text;
      return {};
    case kEnum: {
      const std::string list = allowedText();
      if (value.kind != Value::Kind::kString) return typeError("one of " + list, value);
      for (auto a : allowed) {
        if (a == value.text) {
          memberOf<std::string>(*this, config) = value.text;
          return {};
        }
      }
      return quote(value.text) + " is not allowed (allowed: " + list + ")";
    }
    case kInt: {
      const std::string bounds = allowedText();
      if (value.kind != Value::Kind::kInt) return typeError("an integer from " + bounds, value);
      if (value.integer < min || value.integer > max) {
        return std::to_string(value.integer) + " is out of range (allowed: " + bounds + ")";
      }
      storeNumber(*this, config, value.integer);
      return {};
    }
    case kBool:
      if (value.kind != Value::Kind::kBool) return typeError("true or false", value);
      memberOf<bool>(*this, config) = value.boolean;
      return {};
    case kStringList: {
      if (value.kind != Value::Kind::kList) return typeError("an array of strings", value);
      std::vector<std::string> out;
      for (const auto& item : value.items) {
        if (item.kind != Value::Kind::kString) return "every element must be a string";
        out.push_back(item.text);
      }
      memberOf<std::vector<std::string>>(*this, config) = std::move(out);
      return {};
    }
    // Durations are written "30s", "15m", "24h", "7d" (or a bare number of seconds).
    case kDuration: {
      const std::string bounds = allowedText();
      std::int64_t seconds = 0;
      if (value.kind == Value::Kind::kInt) {
        seconds = value.integer;
      } else if (value.kind != Value::Kind::kString || !parseDuration(value.text, seconds)) {
        return "expected a duration such as \"30s\", \"15m\", \"24h\" or \"7d\" (allowed: " +
               bounds + ")";
      }
      if (seconds < min || seconds > max) {
        return durationText(seconds) + " is out of range (allowed: " + bounds + ")";
      }
      storeNumber(*this, config, seconds);
      return {};
    }
  }
  return {};
}

void KeyDef::setDefault(Config& config) const {
  switch (type) {
    case kString:
    case kEnum:
      memberOf<std::string>(*this, config) = std::string(defaultValue.text);
      break;
    case kInt:
    case kDuration:
      storeNumber(*this, config, defaultValue.number);
      break;
    case kBool:
      memberOf<bool>(*this, config) = defaultValue.flag;
      break;
    case kStringList:
      memberOf<std::vector<std::string>>(*this, config).clear();
      break;
  }
}

std::string KeyDef::show(const Config& config) const {
  switch (type) {
    case kString:
    case kEnum:
      return quote(memberOf<std::string>(*this, config));
    case kInt:
      return std::to_string(numberOf(*this, config));
    case kBool:
      return memberOf<bool>(*this, config) ? "true" : "false";
    case kStringList: {
      std::string out = "[";
      for (const auto& s : memberOf<std::vector<std::string>>(*this, config)) {
        out += (out.size() > 1 ? ", " : "") + quote(s);
      }
      return out + "]";
    }
    case kDuration:
      return quote(durationText(numberOf(*this, config)));
  }
  return {};
}

std::string KeyDef::allowedText() const {
  switch (type) {
    case kInt:
      return std::to_string(min) + " to " + std::to_string(max);
    case kDuration:
      return durationText(min) + " to " + durationText(max);
    case kEnum: {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + quote(a);
      return list;
    }
    case kString:
    case kBool:
    case kStringList:
      break;
  }
  return {};
}

std::span<const KeyDef> schema() {
  return kKeys;
}

const std::vector<std::pair<std::string_view, std::string_view>>& sections() {
  static const std::vector<std::pair<std::string_view, std::string_view>> kSections = {
      {"http", "HTTP API: tracking, accounts, websites, stats, health."},
      {"websocket", "Live feed for dashboards."},
      {"database", "PostgreSQL, where events, accounts and rollups live."},
      {"redis", "Redis: the ingest queue, live-feed pub/sub, caches and counters."},
      {"auth", "Accounts and access tokens."},
      {"ingest", "POST /track and the queue writer."},
      {"aggregation", "Folding raw events into daily rollups."},
      {"cache", "Stats answer cache."},
      {"privacy", "What is kept about visitors."},
      {"geoip", "Country lookup of client addresses."},
      {"retention", "How long raw events are kept."},
      {"log", "Logging to stderr (the journal under systemd)."},
      {"metrics", "Prometheus metrics, on a listener of their own."},
      {"web", "The dashboard and the tracker script."},
      {"email", "Email reports (mpctl report send), sent over SMTP."},
  };
  return kSections;
}

bool parseDuration(std::string_view text, std::int64_t& seconds) {
  if (text.empty()) return false;
  std::int64_t number = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || ptr == text.data() || number < 0) return false;
  std::string_view unit(ptr, static_cast<std::size_t>(text.data() + text.size() - ptr));
  std::int64_t factor = 0;
  if (unit.empty() || unit == "s") {
    factor = 1;
  } else if (unit == "m") {
    factor = 60;
  } else if (unit == "h") {
    factor = 3600;
  } else if (unit == "d") {
    factor = 86400;
  } else {
    return false;
  }
  if (number > INT64_MAX / factor) return false;
  seconds = number * factor;
  return true;
}

Value valueFromText(const KeyDef& key, const std::string& text) {
  Value v;
  switch (key.type) {
    case KeyType::kString:
    case KeyType::kEnum:
    case KeyType::kDuration:
      v.kind = Value::Kind::kString;
      v.text = text;
      v.typeName = "string";
      break;
    case KeyType::kInt: {
      std::int64_t n = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec == std::errc() && ptr == text.data() + text.size() && !text.empty()) {
        v.kind = Value::Kind::kInt;
        v.integer = n;
      } else {
        v.typeName = "\"" + text + "\"";
      }
      break;
    }
    case KeyType::kBool:
      if (text == "true" || text == "1" || text == "yes") {
        v.kind = Value::Kind::kBool;
        v.boolean = true;
      } else if (text == "false" || text == "0" || text == "no") {
        v.kind = Value::Kind::kBool;
      } else {
        v.typeName = "\"" + text + "\"";
      }
      break;
    case KeyType::kStringList: {
      v.kind = Value::Kind::kList;
      std::stringstream ss(text);
      std::string item;
      while (std::getline(ss, item, ',')) {
        if (item.empty()) continue;
        Value iv;
        iv.kind = Value::Kind::kString;
        iv.text = item;
        v.items.push_back(iv);
      }
      break;
    }
  }
  return v;
}

}  // namespace mp::config
