// The typed configuration of metricpulsed and mpctl, loaded from TOML and the environment.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace mp::config {

struct HttpConfig {
  std::string listen;                       ///< host:port of the HTTP API
  int threads = 0;                          ///< Pistache worker threads
  std::int64_t maxBodyBytes = 0;            ///< request body limit
  std::vector<std::string> trustedProxies;  ///< addresses/CIDRs whose X-Forwarded-For is believed
};

struct WebSocketConfig {
  std::string listen;
  int threads = 0;  ///< event loops the connections are spread over; 0: one per core, at most 4
  std::vector<std::string> allowedOrigins;  ///< empty: any Origin
  int maxClients = 0;
  int maxHandshakes = 0;         ///< connections still in their upgrade request
  int maxClientsPerAddress = 0;  ///< connections from one address; 0: no limit
  std::chrono::seconds handshakeTimeout{0};
  std::int64_t maxOutputBytes = 0;  ///< unsent bytes per client before it is dropped
  std::chrono::seconds pingInterval{0};
  std::chrono::seconds idleTimeout{0};
};

struct DatabaseConfig {
  std::string url;
  std::string readUrl;  ///< stats reads (a replica); empty: url
  int poolSize = 0;
  std::chrono::seconds connectTimeout{0};
};

struct RedisConfig {
  std::string url;
  std::chrono::milliseconds timeout{0};  ///< connect and command timeout
  std::vector<std::string> sentinels;    ///< host:port of Sentinels; empty: url is the server
  std::string masterName;                ///< the master's name in Sentinel
  int waitReplicas = 0;                  ///< replicas that must hold a tracked event before its 202
};

struct AuthConfig {
  std::string jwtSecretFile;
  std::chrono::seconds tokenTtl{0};
  bool allowSignup = true;
  int bcryptCost = 0;
  int loginMaxFailures = 0;            ///< failures per window before 429
  int loginMaxFailuresPerAddress = 0;  ///< failures per client address per window
  std::chrono::seconds loginWindow{0};
};

struct IngestConfig {
  int rateLimitPerMinute = 0;  ///< per client address; 0 = off
  bool filterBots = true;
  int batchSize = 0;  ///< events per PostgreSQL write
  std::chrono::milliseconds flushInterval{0};
  int writers = 0;  ///< writer threads per daemon
  std::chrono::seconds claimIdle{
      0};  ///< pending entries of a silent consumer are taken over after this
};

struct AggregationConfig {
  bool enabled = true;
  std::chrono::seconds interval{0};
  std::chrono::seconds refreshInterval{0};  ///< of the stored visits of days not final
};

struct CacheConfig {
  int ttlSeconds = 0;
};

struct PrivacyConfig {
  std::string ipStorage;  ///< full | truncated | none
  bool respectDoNotTrack = false;
};

struct GeoipConfig {
  std::string database;  ///< path of an .mmdb file; empty = off
};

struct RetentionConfig {
  int days = 0;  ///< 0 = keep forever
};

struct LogConfig {
  std::string level;
  std::string format;  ///< auto | text | journal
};

struct WebConfig {
  std::string root;          ///< directory of the dashboard and tracker; empty = neither is served
  std::string trackerPath;   ///< URL path of the tracker script
  std::string wsUrl;         ///< live-feed URL for dashboards; empty = derived from the page's host
  std::string cookieSecure;  ///< auto | always | never
};

struct EmailConfig {
  std::string url;           ///< smtp://host[:port] or smtps://host[:port]; empty = no email
  std::string from;          ///< From: address, "Name <addr>" or "addr"
  std::string username;      ///< SMTP AUTH user; empty = no AUTH
  std::string passwordFile;  ///< file holding the SMTP password
  std::string starttls;      ///< always | when-offered | never (smtp:// only)
  std::string caFile;        ///< CA bundle to verify the server with; empty = the system's
  std::chrono::seconds timeout{0};
  std::string dashboardUrl;  ///< the dashboard's public URL for links in reports; empty = none
};

struct MetricsConfig {
  std::string listen;  ///< host:port of the Prometheus listener; empty = none
};

/// Every setting, with the defaults of the key table (see schema()).
struct Config {
  HttpConfig http;
  WebSocketConfig websocket;
  DatabaseConfig database;
  RedisConfig redis;
  AuthConfig auth;
  IngestConfig ingest;
  AggregationConfig aggregation;
  CacheConfig cache;
  PrivacyConfig privacy;
  GeoipConfig geoip;
  RetentionConfig retention;
  LogConfig log;
  MetricsConfig metrics;
  WebConfig web;
  EmailConfig email;

  /// A configuration holding every default.
  static Config defaults();
};

/// One thing wrong with a configuration.
struct Problem {
  std::string location;  ///< "file:line:col", "file" or "MP_…" (environment)
  std::string key;       ///< "section.key", empty for syntax errors
  std::string message;   ///< what is wrong and what is allowed
  /// "location: key: message"
  std::string str() const;
};

/// The outcome of loading: the configuration and every problem found (empty when valid).
struct LoadResult {
  Config config;
  std::vector<Problem> problems;
  bool ok() const { return problems.empty(); }
};

using Environment = std::map<std::string, std::string>;

/// The MP_* variables of this process's environment.
Environment processEnvironment();

/// Parses TOML text (named `sourceName` in messages), applies `env`, validates everything.
LoadResult parse(const std::string& text, const std::string& sourceName, const Environment& env);
/// Reads and parses a file; an unreadable file is a problem, not an exception.
LoadResult load(const std::filesystem::path& file, const Environment& env);
/// load() with the process environment; throws ConfigError listing every problem.
Config loadOrThrow(const std::filesystem::path& file);

/// The default configuration as commented TOML (what --print-defaults prints).
std::string defaultsToml();

/// The manual page metricpulse.toml(5) in roff, made from the key table: every key with its
/// type, default, range or allowed values, environment variable and help (what
/// `metricpulsed --print-man` prints; man/metricpulse.toml.5 is its output).
std::string manPage();

/// Splits "host:port" or "[v6]:port"; returns false when malformed.
bool splitHostPort(const std::string& listen, std::string& host, int& port);

}  // namespace mp::config
