// The configuration key table: every key with its type, default, range and help text.
#include "config/schema.hpp"

#include <charconv>
#include <chrono>
#include <sstream>

namespace mp::config {
namespace {

template <class S, class T>
struct Field {
  S Config::*section;
  T S::*member;
  T& ref(Config& c) const { return c.*section.*member; }
  const T& ref(const Config& c) const { return c.*section.*member; }
};

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

KeyDef base(std::string_view section, std::string_view name, KeyType type, std::string_view help,
            std::string_view env) {
  KeyDef k;
  k.section = section;
  k.name = name;
  k.type = type;
  k.help = help;
  k.env = env;
  return k;
}

template <class S>
KeyDef stringKey(std::string_view section, std::string_view name, Field<S, std::string> f,
                 std::string def, std::string_view help, std::string_view env = {}) {
  KeyDef k = base(section, name, KeyType::kString, help, env);
  k.apply = [f](Config& c, const Value& v) -> std::string {
    if (v.kind != Value::Kind::kString) return typeError("a string", v);
    f.ref(c) = v.text;
    return {};
  };
  k.setDefault = [f, def](Config& c) { f.ref(c) = def; };
  k.show = [f](const Config& c) { return quote(f.ref(c)); };
  return k;
}

template <class S>
KeyDef enumKey(std::string_view section, std::string_view name, Field<S, std::string> f,
               std::string def, std::vector<std::string_view> allowed, std::string_view help,
               std::string_view env = {}) {
  KeyDef k = base(section, name, KeyType::kEnum, help, env);
  k.allowed = allowed;
  k.apply = [f, allowed](Config& c, const Value& v) -> std::string {
    std::string list;
    for (auto a : allowed) list += (list.empty() ? "" : ", ") + quote(a);
    if (v.kind != Value::Kind::kString) return typeError("one of " + list, v);
    for (auto a : allowed) {
      if (a == v.text) {
        f.ref(c) = v.text;
        return {};
      }
    }
    return quote(v.text) + " is not allowed (allowed: " + list + ")";
  };
  k.setDefault = [f, def](Config& c) { f.ref(c) = def; };
  k.show = [f](const Config& c) { return quote(f.ref(c)); };
  return k;
}

template <class S, class T>
KeyDef intKey(std::string_view section, std::string_view name, Field<S, T> f, T def, T min, T max,
              std::string_view help, std::string_view env = {}) {
  KeyDef k = base(section, name, KeyType::kInt, help, env);
  k.min = min;
  k.max = max;
  k.apply = [f, min, max](Config& c, const Value& v) -> std::string {
    const std::string range = std::to_string(min) + " to " + std::to_string(max);
    if (v.kind != Value::Kind::kInt) return typeError("an integer from " + range, v);
    if (v.integer < min || v.integer > max) {
      return std::to_string(v.integer) + " is out of range (allowed: " + range + ")";
    }
    f.ref(c) = static_cast<T>(v.integer);
    return {};
  };
  k.setDefault = [f, def](Config& c) { f.ref(c) = def; };
  k.show = [f](const Config& c) { return std::to_string(f.ref(c)); };
  return k;
}

template <class S>
KeyDef boolKey(std::string_view section, std::string_view name, Field<S, bool> f, bool def,
               std::string_view help, std::string_view env = {}) {
  KeyDef k = base(section, name, KeyType::kBool, help, env);
  k.apply = [f](Config& c, const Value& v) -> std::string {
    if (v.kind != Value::Kind::kBool) return typeError("true or false", v);
    f.ref(c) = v.boolean;
    return {};
  };
  k.setDefault = [f, def](Config& c) { f.ref(c) = def; };
  k.show = [f](const Config& c) { return f.ref(c) ? std::string("true") : std::string("false"); };
  return k;
}

template <class S>
KeyDef listKey(std::string_view section, std::string_view name,
               Field<S, std::vector<std::string>> f, std::vector<std::string> def,
               std::string_view help, std::string_view env = {}) {
  KeyDef k = base(section, name, KeyType::kStringList, help, env);
  k.apply = [f](Config& c, const Value& v) -> std::string {
    if (v.kind != Value::Kind::kList) return typeError("an array of strings", v);
    std::vector<std::string> out;
    for (const auto& item : v.items) {
      if (item.kind != Value::Kind::kString) return "every element must be a string";
      out.push_back(item.text);
    }
    f.ref(c) = std::move(out);
    return {};
  };
  k.setDefault = [f, def](Config& c) { f.ref(c) = def; };
  k.show = [f](const Config& c) {
    std::string out = "[";
    for (const auto& s : f.ref(c)) out += (out.size() > 1 ? ", " : "") + quote(s);
    return out + "]";
  };
  return k;
}

// Durations are written "30s", "15m", "24h", "7d" (or a bare number of seconds).
template <class S, class D>
KeyDef durationKey(std::string_view section, std::string_view name, Field<S, D> f,
                   std::int64_t defSeconds, std::int64_t minSeconds, std::int64_t maxSeconds,
                   std::string_view help, std::string_view env = {}) {
  KeyDef k = base(section, name, KeyType::kDuration, help, env);
  k.min = minSeconds;
  k.max = maxSeconds;
  k.apply = [f, minSeconds, maxSeconds](Config& c, const Value& v) -> std::string {
    const std::string range = durationText(minSeconds) + " to " + durationText(maxSeconds);
    std::int64_t seconds = 0;
    if (v.kind == Value::Kind::kInt) {
      seconds = v.integer;
    } else if (v.kind != Value::Kind::kString || !parseDuration(v.text, seconds)) {
      return "expected a duration such as \"30s\", \"15m\", \"24h\" or \"7d\" (allowed: " + range +
             ")";
    }
    if (seconds < minSeconds || seconds > maxSeconds) {
      return durationText(seconds) + " is out of range (allowed: " + range + ")";
    }
    f.ref(c) = std::chrono::duration_cast<D>(std::chrono::seconds(seconds));
    return {};
  };
  k.setDefault = [f, defSeconds](Config& c) {
    f.ref(c) = std::chrono::duration_cast<D>(std::chrono::seconds(defSeconds));
  };
  k.show = [f](const Config& c) {
    return quote(durationText(std::chrono::duration_cast<std::chrono::seconds>(f.ref(c)).count()));
  };
  return k;
}

// Millisecond settings are plain integers, documented as such in their names.
template <class S>
KeyDef millisKey(std::string_view section, std::string_view name,
                 Field<S, std::chrono::milliseconds> f, std::int64_t def, std::int64_t min,
                 std::int64_t max, std::string_view help) {
  KeyDef k = base(section, name, KeyType::kInt, help, {});
  k.min = min;
  k.max = max;
  k.apply = [f, min, max](Config& c, const Value& v) -> std::string {
    const std::string range = std::to_string(min) + " to " + std::to_string(max);
    if (v.kind != Value::Kind::kInt) return typeError("an integer from " + range, v);
    if (v.integer < min || v.integer > max) {
      return std::to_string(v.integer) + " is out of range (allowed: " + range + ")";
    }
    f.ref(c) = std::chrono::milliseconds(v.integer);
    return {};
  };
  k.setDefault = [f, def](Config& c) { f.ref(c) = std::chrono::milliseconds(def); };
  k.show = [f](const Config& c) { return std::to_string(f.ref(c).count()); };
  return k;
}

constexpr std::int64_t kMinute = 60;
constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kDay = 86400;

std::vector<KeyDef> buildSchema() {
  using C = Config;
  std::vector<KeyDef> s;
  // [http]
  s.push_back(
      stringKey("http", "listen", Field<HttpConfig, std::string>{&C::http, &HttpConfig::listen},
                "127.0.0.1:8080", "Address and port of the HTTP API (host:port, [v6]:port).",
                "MP_HTTP_LISTEN"));
  s.push_back(intKey("http", "threads", Field<HttpConfig, int>{&C::http, &HttpConfig::threads}, 2,
                     1, 256, "HTTP worker threads; the number of cores is a good start."));
  s.push_back(intKey("http", "max_body_bytes",
                     Field<HttpConfig, std::int64_t>{&C::http, &HttpConfig::maxBodyBytes},
                     std::int64_t{16384}, std::int64_t{1024}, std::int64_t{1048576},
                     "Largest request body accepted; larger bodies get 413."));
  s.push_back(listKey(
      "http", "trusted_proxies",
      Field<HttpConfig, std::vector<std::string>>{&C::http, &HttpConfig::trustedProxies}, {},
      "Addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed; it is "
      "read from the right, and the client is the first entry not listed here."));
  // [websocket]
  s.push_back(stringKey(
      "websocket", "listen",
      Field<WebSocketConfig, std::string>{&C::websocket, &WebSocketConfig::listen},
      "127.0.0.1:8081", "Address and port of the WebSocket live feed (path /ws).", "MP_WS_LISTEN"));
  s.push_back(listKey("websocket", "allowed_origins",
                      Field<WebSocketConfig, std::vector<std::string>>{
                          &C::websocket, &WebSocketConfig::allowedOrigins},
                      {}, "Origins (scheme://host[:port]) allowed to connect; empty allows any."));
  s.push_back(intKey("websocket", "max_clients",
                     Field<WebSocketConfig, int>{&C::websocket, &WebSocketConfig::maxClients},
                     10000, 1, 1000000, "Most WebSocket clients served at once."));
  s.push_back(intKey(
      "websocket", "max_handshakes",
      Field<WebSocketConfig, int>{&C::websocket, &WebSocketConfig::maxHandshakes}, 256, 1, 1000000,
      "Most connections still sending their upgrade request; more are refused with 503, so "
      "clients that never log in cannot crowd out dashboards."));
  s.push_back(
      intKey("websocket", "max_clients_per_address",
             Field<WebSocketConfig, int>{&C::websocket, &WebSocketConfig::maxClientsPerAddress}, 64,
             0, 1000000,
             "Most connections from one client address (IPv6: one /64); more are refused with 429. "
             "0 turns the limit off. Peers in http.trusted_proxies are not limited."));
  s.push_back(durationKey("websocket", "handshake_timeout",
                          Field<WebSocketConfig, std::chrono::seconds>{
                              &C::websocket, &WebSocketConfig::handshakeTimeout},
                          5, 1, 60,
                          "A connection that has not completed its upgrade request by then is "
                          "closed."));
  s.push_back(
      intKey("websocket", "max_output_bytes",
             Field<WebSocketConfig, std::int64_t>{&C::websocket, &WebSocketConfig::maxOutputBytes},
             std::int64_t{1048576}, std::int64_t{65536}, std::int64_t{67108864},
             "Unsent bytes queued for one client before it is disconnected."));
  s.push_back(durationKey(
      "websocket", "ping_interval",
      Field<WebSocketConfig, std::chrono::seconds>{&C::websocket, &WebSocketConfig::pingInterval},
      30, 1, kHour, "How often idle clients are pinged."));
  s.push_back(durationKey(
      "websocket", "idle_timeout",
      Field<WebSocketConfig, std::chrono::seconds>{&C::websocket, &WebSocketConfig::idleTimeout},
      90, 5, kDay, "A client silent for this long (no pong) is closed."));
  // [database]
  s.push_back(stringKey(
      "database", "url", Field<DatabaseConfig, std::string>{&C::database, &DatabaseConfig::url},
      "postgresql:///metricpulse",
      "PostgreSQL connection URL (postgresql://user:password@host:port/db).", "MP_DATABASE_URL"));
  s.push_back(intKey("database", "pool_size",
                     Field<DatabaseConfig, int>{&C::database, &DatabaseConfig::poolSize}, 8, 1, 512,
                     "PostgreSQL connections held by one process."));
  s.push_back(durationKey(
      "database", "connect_timeout",
      Field<DatabaseConfig, std::chrono::seconds>{&C::database, &DatabaseConfig::connectTimeout}, 5,
      1, 5 * kMinute, "Time allowed to open a PostgreSQL connection."));
  // [redis]
  s.push_back(stringKey(
      "redis", "url", Field<RedisConfig, std::string>{&C::redis, &RedisConfig::url},
      "redis://127.0.0.1:6379",
      "Redis URL (redis://[:password@]host:port[/db] or unix:///path.sock).", "MP_REDIS_URL"));
  s.push_back(
      millisKey("redis", "timeout_ms",
                Field<RedisConfig, std::chrono::milliseconds>{&C::redis, &RedisConfig::timeout},
                2000, 50, 60000, "Connect and command timeout for Redis, in milliseconds."));
  // [auth]
  s.push_back(stringKey("auth", "jwt_secret_file",
                        Field<AuthConfig, std::string>{&C::auth, &AuthConfig::jwtSecretFile},
                        "/etc/metricpulse/jwt.secret",
                        "File holding the token signing secret (at least 32 bytes).",
                        "MP_JWT_SECRET_FILE"));
  s.push_back(durationKey("auth", "token_ttl",
                          Field<AuthConfig, std::chrono::seconds>{&C::auth, &AuthConfig::tokenTtl},
                          24 * kHour, kMinute, 90 * kDay, "Lifetime of an access token."));
  s.push_back(boolKey("auth", "allow_signup",
                      Field<AuthConfig, bool>{&C::auth, &AuthConfig::allowSignup}, true,
                      "Whether POST /auth/signup is open; when false, use mpctl user add."));
  s.push_back(intKey("auth", "bcrypt_cost",
                     Field<AuthConfig, int>{&C::auth, &AuthConfig::bcryptCost}, 12, 4, 31,
                     "bcrypt work factor for stored passwords."));
  s.push_back(intKey("auth", "login_max_failures",
                     Field<AuthConfig, int>{&C::auth, &AuthConfig::loginMaxFailures}, 10, 1, 10000,
                     "Failed logins for one email within login_window before 429."));
  s.push_back(intKey("auth", "login_max_failures_per_address",
                     Field<AuthConfig, int>{&C::auth, &AuthConfig::loginMaxFailuresPerAddress}, 50,
                     1, 100000,
                     "Failed logins from one client address (any email; IPv6 by its /64) within "
                     "login_window before 429; higher than per email, as offices share an "
                     "address."));
  s.push_back(
      durationKey("auth", "login_window",
                  Field<AuthConfig, std::chrono::seconds>{&C::auth, &AuthConfig::loginWindow},
                  15 * kMinute, 10, kDay, "Window over which failed logins are counted."));
  // [ingest]
  s.push_back(intKey("ingest", "rate_limit_per_minute",
                     Field<IngestConfig, int>{&C::ingest, &IngestConfig::rateLimitPerMinute}, 600,
                     0, 10000000,
                     "Tracked events per client address (IPv6 by its /64) per minute; 0 turns it "
                     "off."));
  s.push_back(boolKey("ingest", "filter_bots",
                      Field<IngestConfig, bool>{&C::ingest, &IngestConfig::filterBots}, true,
                      "Drop events from known bots and crawlers (still answered 202)."));
  s.push_back(intKey(
      "ingest", "batch_size", Field<IngestConfig, int>{&C::ingest, &IngestConfig::batchSize}, 2000,
      1, 100000, "Events written to PostgreSQL in one batch (about this many, twice at most)."));
  s.push_back(millisKey(
      "ingest", "flush_interval_ms",
      Field<IngestConfig, std::chrono::milliseconds>{&C::ingest, &IngestConfig::flushInterval}, 200,
      10, 60000, "Longest wait for a batch to fill, in milliseconds."));
  s.push_back(intKey("ingest", "writers",
                     Field<IngestConfig, int>{&C::ingest, &IngestConfig::writers}, 1, 1, 64,
                     "Queue writer threads per daemon."));
  s.push_back(durationKey(
      "ingest", "claim_idle",
      Field<IngestConfig, std::chrono::seconds>{&C::ingest, &IngestConfig::claimIdle}, 30, 1, kHour,
      "Queued events a crashed daemon had taken are written by another after "
      "being idle this long."));
  // [aggregation]
  s.push_back(boolKey("aggregation", "enabled",
                      Field<AggregationConfig, bool>{&C::aggregation, &AggregationConfig::enabled},
                      true,
                      "Run the aggregation job inside the daemon (off when a timer runs it)."));
  s.push_back(durationKey(
      "aggregation", "interval",
      Field<AggregationConfig, std::chrono::seconds>{&C::aggregation, &AggregationConfig::interval},
      kHour, kMinute, kDay, "How often the in-daemon aggregation runs."));
  // [cache]
  s.push_back(intKey("cache", "ttl_seconds",
                     Field<CacheConfig, int>{&C::cache, &CacheConfig::ttlSeconds}, 30, 0, 86400,
                     "Seconds a stats answer is cached in Redis; 0 turns caching off."));
  // [privacy]
  s.push_back(
      enumKey("privacy", "ip_storage",
              Field<PrivacyConfig, std::string>{&C::privacy, &PrivacyConfig::ipStorage},
              "truncated", {"full", "truncated", "none"},
              "What is kept of client addresses: full, truncated (IPv4 /24, IPv6 /48) or none."));
  s.push_back(boolKey("privacy", "respect_do_not_track",
                      Field<PrivacyConfig, bool>{&C::privacy, &PrivacyConfig::respectDoNotTrack},
                      false, "Drop events of browsers that send DNT: 1."));
  // [geoip]
  s.push_back(stringKey(
      "geoip", "database", Field<GeoipConfig, std::string>{&C::geoip, &GeoipConfig::database}, "",
      "Path of a GeoLite2/GeoIP2/DB-IP country or city .mmdb; empty turns it off."));
  // [retention]
  s.push_back(intKey(
      "retention", "days", Field<RetentionConfig, int>{&C::retention, &RetentionConfig::days}, 0, 0,
      36500, "Raw events older than this many days are pruned; 0 keeps them forever."));
  // [log]
  s.push_back(enumKey("log", "level", Field<LogConfig, std::string>{&C::log, &LogConfig::level},
                      "info", {"trace", "debug", "info", "warn", "error", "critical", "off"},
                      "Least severe messages logged; re-read on SIGHUP.", "MP_LOG_LEVEL"));
  s.push_back(
      enumKey("log", "format", Field<LogConfig, std::string>{&C::log, &LogConfig::format}, "auto",
              {"auto", "text", "journal"},
              "text has timestamps; journal leaves them to journald and starts each line with its "
              "syslog priority (<3> error, <4> warning, <6> info, <7> debug); auto picks by "
              "JOURNAL_STREAM."));
  // [metrics]
  s.push_back(stringKey(
      "metrics", "listen", Field<MetricsConfig, std::string>{&C::metrics, &MetricsConfig::listen},
      "127.0.0.1:9464",
      "Address and port of GET /metrics (host:port), apart from the public API; empty turns it "
      "off.",
      "MP_METRICS_LISTEN"));
  return s;
}

}  // namespace

const std::vector<KeyDef>& schema() {
  static const std::vector<KeyDef> kSchema = buildSchema();
  return kSchema;
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
