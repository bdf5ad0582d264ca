// Loading the configuration: TOML parse, environment overrides, validation of every key.
#include "config/config.hpp"

#include <arpa/inet.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "config/schema.hpp"
#include "util/error.hpp"
#include "util/redis_url.hpp"

extern char** environ;

namespace mp::config {
namespace {

std::string locationOf(const std::string& source, const toml::source_region& region) {
  return source + ":" + std::to_string(region.begin.line) + ":" +
         std::to_string(region.begin.column);
}

const char* tomlTypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date/time";
    default:
      return "an unknown type";
  }
}

Value toValue(const toml::node& node) {
  Value v;
  v.typeName = tomlTypeName(node);
  if (auto s = node.as_string()) {
    v.kind = Value::Kind::kString;
    v.text = s->get();
  } else if (auto i = node.as_integer()) {
    v.kind = Value::Kind::kInt;
    v.integer = i->get();
  } else if (auto b = node.as_boolean()) {
    v.kind = Value::Kind::kBool;
    v.boolean = b->get();
  } else if (auto a = node.as_array()) {
    v.kind = Value::Kind::kList;
    for (const auto& item : *a) v.items.push_back(toValue(item));
  }
  return v;
}

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] =
          std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// "did you mean" for a misspelt name, from the candidates within a small edit distance.
std::string suggestion(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t bestDistance = 3;
  for (const auto& c : candidates) {
    std::size_t d = editDistance(name, c);
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best.empty() ? std::string() : " (did you mean '" + best + "'?)";
}

// (line, column) of a "file:line:col" location, for ordering.
std::pair<long, long> linePosition(const Problem& p) {
  const auto last = p.location.rfind(':');
  const auto mid = last == std::string::npos ? last : p.location.rfind(':', last - 1);
  if (mid == std::string::npos) return {0, 0};
  return {std::atol(p.location.c_str() + mid + 1), std::atol(p.location.c_str() + last + 1)};
}

const KeyDef* findKey(std::string_view section, std::string_view name) {
  for (const auto& k : schema()) {
    if (k.section == section && k.name == name) return &k;
  }
  return nullptr;
}

bool isSection(std::string_view name) {
  for (const auto& [s, help] : sections()) {
    if (s == name) return true;
  }
  return false;
}

bool validAddress(const std::string& text) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

bool validCidr(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos) return validAddress(text);
  std::string addr = text.substr(0, slash);
  std::string bits = text.substr(slash + 1);
  if (bits.empty() || bits.size() > 3 ||
      !std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const int n = std::stoi(bits);
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) return n <= 32;
  if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) return n <= 128;
  return false;
}

bool validOrigin(const std::string& origin) {
  std::string rest;
  if (origin.rfind("https://", 0) == 0) {
    rest = origin.substr(8);
  } else if (origin.rfind("http://", 0) == 0) {
    rest = origin.substr(7);
  } else {
    return false;
  }
  return !rest.empty() && rest.find('/') == std::string::npos &&
         rest.find_first_of(" ?#@") == std::string::npos;
}

// Why a tracker path cannot be served, or nullopt: a path of its own (no API route's), of
// URL-safe segments, ending in ".js".
std::optional<std::string> trackerPathProblem(const std::string& path) {
  const std::string example = " (for example \"/js/script.js\" or \"/assets/m.js\")";
  if (path.size() < 5 || path.front() != '/' || path.substr(path.size() - 3) != ".js") {
    return "\"" + path + "\" must be a path starting with / and ending in .js" + example;
  }
  for (char ch : path) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '/' || ch == '.' || ch == '-' || ch == '_';
    if (!ok) return "\"" + path + "\" may hold only letters, digits, / . - _" + example;
  }
  if (path.find("//") != std::string::npos || path.find("/.") != std::string::npos) {
    return "\"" + path + "\" has an empty or hidden segment" + example;
  }
  // The first segments of the API's own paths: the script may not sit on or under one.
  for (const char* taken :
       {"/track", "/auth", "/websites", "/stats", "/api", "/app", "/share", "/shares", "/ui",
        "/healthz", "/readyz", "/metrics", "/openapi.json", "/ws"}) {
    const std::string prefix = taken;
    if (path == prefix || path.rfind(prefix + "/", 0) == 0) {
      return "\"" + path + "\" lies on " + prefix + ", which the API uses" + example;
    }
  }
  return std::nullopt;
}

// Checks that span keys or need more than the key's type and range.
void crossChecks(const Config& c, const std::map<std::string, std::string>& where,
                 const std::string& fallback, std::vector<Problem>& problems) {
  auto add = [&](const std::string& key, std::string message) {
    auto it = where.find(key);
    problems.push_back({it == where.end() ? fallback : it->second, key, std::move(message)});
  };
  std::string host;
  int port = 0;
  if (!splitHostPort(c.http.listen, host, port)) {
    add("http.listen",
        "\"" + c.http.listen +
            "\" is not host:port (for example \"127.0.0.1:8080\" or \"[::1]:8080\")");
  }
  if (!splitHostPort(c.websocket.listen, host, port)) {
    add("websocket.listen",
        "\"" + c.websocket.listen +
            "\" is not host:port (for example \"127.0.0.1:8081\" or \"[::1]:8081\")");
  }
  if (c.http.listen == c.websocket.listen) {
    add("websocket.listen", "must differ from http.listen (both are \"" + c.http.listen + "\")");
  }
  if (!c.metrics.listen.empty()) {
    if (!splitHostPort(c.metrics.listen, host, port)) {
      add("metrics.listen", "\"" + c.metrics.listen +
                                "\" is not host:port (for example \"127.0.0.1:9464\"), nor empty");
    } else if (c.metrics.listen == c.http.listen || c.metrics.listen == c.websocket.listen) {
      add("metrics.listen",
          "must differ from http.listen and websocket.listen (\"" + c.metrics.listen + "\")");
    }
  }
  for (const auto& proxy : c.http.trustedProxies) {
    if (!validCidr(proxy)) {
      add("http.trusted_proxies",
          "\"" + proxy + "\" is not an IP address or CIDR (for example \"10.0.0.0/8\")");
    }
  }
  for (const auto& origin : c.websocket.allowedOrigins) {
    if (!validOrigin(origin)) {
      add("websocket.allowed_origins", "\"" + origin +
                                           "\" is not an origin (scheme://host[:port], for example "
                                           "\"https://stats.example.com\")");
    }
  }
  const auto& db = c.database.url;
  if (db.rfind("postgresql://", 0) != 0 && db.rfind("postgres://", 0) != 0) {
    add("database.url",
        "must start with postgresql:// (for example "
        "\"postgresql://metricpulse@localhost/metricpulse\")");
  }
  const auto& readUrl = c.database.readUrl;
  if (!readUrl.empty() && readUrl.rfind("postgresql://", 0) != 0 &&
      readUrl.rfind("postgres://", 0) != 0) {
    add("database.read_url", "must start with postgresql://, or be empty");
  }
  if (auto error = util::validateRedisUrl(c.redis.url)) add("redis.url", *error);
  for (const auto& sentinel : c.redis.sentinels) {
    if (!splitHostPort(sentinel, host, port)) {
      add("redis.sentinels",
          "\"" + sentinel + "\" is not host:port (for example \"10.0.0.5:26379\")");
    }
  }
  if (!c.redis.sentinels.empty() && c.redis.masterName.empty()) {
    add("redis.master_name",
        "must name the master the sentinels monitor (for example \"mymaster\")");
  }
  if (auto error = trackerPathProblem(c.web.trackerPath)) add("web.tracker_path", *error);
  if (!c.web.wsUrl.empty() && c.web.wsUrl.rfind("ws://", 0) != 0 &&
      c.web.wsUrl.rfind("wss://", 0) != 0) {
    add("web.ws_url", "\"" + c.web.wsUrl +
                          "\" must start with ws:// or wss:// (for example "
                          "\"wss://stats.example.com/ws\"), or be empty");
  }
  if (!c.email.url.empty()) {
    if (c.email.url.rfind("smtp://", 0) != 0 && c.email.url.rfind("smtps://", 0) != 0) {
      add("email.url", "\"" + c.email.url +
                           "\" must start with smtp:// or smtps:// (for example "
                           "\"smtp://mail.example.com:587\"), or be empty");
    }
    if (c.email.from.empty()) {
      add("email.url",
          "needs email.from, the sender of the reports (for example \"reports@example.com\")");
    }
  }
  if (!c.email.from.empty() && c.email.from.find('@') == std::string::npos) {
    add("email.from", "\"" + c.email.from + "\" holds no email address");
  }
  if (!c.email.username.empty() && c.email.passwordFile.empty()) {
    add("email.username", "needs email.password_file, the file holding its password");
  }
  if (!c.geoip.database.empty()) {
    std::ifstream probe(c.geoip.database, std::ios::binary);
    if (!probe) add("geoip.database", "cannot read \"" + c.geoip.database + "\"");
  }
}

}  // namespace

Config Config::defaults() {
  Config c;
  for (const auto& k : schema()) k.setDefault(c);
  return c;
}

std::string Problem::str() const {
  std::string out = location;
  if (!key.empty()) out += (out.empty() ? "" : ": ") + key;
  return out + ": " + message;
}

Environment processEnvironment() {
  Environment env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (entry.rfind("MP_", 0) != 0) continue;
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

LoadResult parse(const std::string& text, const std::string& sourceName, const Environment& env) {
  LoadResult result;
  result.config = Config::defaults();
  std::map<std::string, std::string> where;

  toml::table root;
  try {
    root = toml::parse(text, sourceName);
  } catch (const toml::parse_error& e) {
    result.problems.push_back(
        {locationOf(sourceName, e.source()), "", std::string(e.description())});
    return result;
  }

  std::vector<std::string> sectionNames;
  for (const auto& [s, help] : sections()) sectionNames.emplace_back(s);

  for (const auto& [sectionKey, sectionNode] : root) {
    const std::string section(sectionKey.str());
    const std::string loc = locationOf(sourceName, sectionKey.source());
    if (!isSection(section)) {
      result.problems.push_back({loc, section,
                                 sectionNode.is_table()
                                     ? "unknown section" + suggestion(section, sectionNames)
                                     : "unknown key: every key belongs in a section such as "
                                       "[http]"});
      continue;
    }
    const auto* table = sectionNode.as_table();
    if (table == nullptr) {
      result.problems.push_back({loc, section, "must be a section ([" + section + "])"});
      continue;
    }
    std::vector<std::string> keyNames;
    for (const auto& k : schema()) {
      if (k.section == section) keyNames.emplace_back(k.name);
    }
    for (const auto& [nameKey, node] : *table) {
      const std::string name(nameKey.str());
      const std::string full = section + "." + name;
      const std::string keyLoc = locationOf(sourceName, nameKey.source());
      const KeyDef* def = findKey(section, name);
      if (def == nullptr) {
        result.problems.push_back({keyLoc, full, "unknown key" + suggestion(name, keyNames)});
        continue;
      }
      where[full] = locationOf(sourceName, node.source());
      std::string error = def->apply(result.config, toValue(node));
      if (!error.empty()) result.problems.push_back({where[full], full, error});
    }
  }

  // toml++ iterates keys in sorted order; people read problems in file order.
  std::stable_sort(
      result.problems.begin(), result.problems.end(),
      [](const Problem& a, const Problem& b) { return linePosition(a) < linePosition(b); });

  for (const auto& k : schema()) {
    if (k.env.empty()) continue;
    auto it = env.find(std::string(k.env));
    if (it == env.end() || it->second.empty()) continue;
    where[k.fullName()] = std::string(k.env);
    std::string error = k.apply(result.config, valueFromText(k, it->second));
    if (!error.empty()) result.problems.push_back({std::string(k.env), k.fullName(), error});
  }

  crossChecks(result.config, where, sourceName, result.problems);
  return result;
}

LoadResult load(const std::filesystem::path& file, const Environment& env) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    LoadResult result;
    result.config = Config::defaults();
    result.problems.push_back({file.string(), "",
                               "cannot read the configuration file (" +
                                   std::string(std::strerror(errno)) + "); see --print-defaults"});
    return result;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse(buffer.str(), file.string(), env);
}

Config loadOrThrow(const std::filesystem::path& file) {
  LoadResult result = load(file, processEnvironment());
  if (!result.ok()) {
    std::string message;
    for (const auto& p : result.problems) message += (message.empty() ? "" : "\n") + p.str();
    throw ConfigError(message);
  }
  return result.config;
}

std::string defaultsToml() {
  const Config defaults = Config::defaults();
  std::string out =
      "# MetricPulse configuration (/etc/metricpulse/metricpulse.toml).\n"
      "#\n"
      "# Every key is shown with its default. Durations take s, m, h or d\n"
      "# (\"90s\", \"15m\", \"24h\", \"7d\"). Check a file with\n"
      "# `metricpulsed --check-config` or `mpctl config check`.\n";
  for (const auto& [section, help] : sections()) {
    out += "\n# " + std::string(help) + "\n[" + std::string(section) + "]\n";
    for (const auto& k : schema()) {
      if (k.section != section) continue;
      out += "\n# " + std::string(k.help);
      if (k.type == KeyType::kInt) {
        out += " Range " + std::to_string(k.min) + " to " + std::to_string(k.max) + ".";
      }
      if (!k.env.empty()) out += " Environment: " + std::string(k.env) + ".";
      out += "\n" + std::string(k.name) + " = " + k.show(defaults) + "\n";
    }
  }
  return out;
}

bool splitHostPort(const std::string& listen, std::string& host, int& port) {
  std::string portText;
  if (!listen.empty() && listen.front() == '[') {
    auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return false;
    }
    host = listen.substr(1, close - 1);
    portText = listen.substr(close + 2);
    unsigned char buf[sizeof(in6_addr)];
    if (inet_pton(AF_INET6, host.c_str(), buf) != 1) return false;
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    host = listen.substr(0, colon);
    portText = listen.substr(colon + 1);
    if (host.find(':') != std::string::npos) return false;
  }
  if (portText.empty() || portText.size() > 5 ||
      !std::all_of(portText.begin(), portText.end(),
                   [](char ch) { return ch >= '0' && ch <= '9'; })) {
    return false;
  }
  port = std::stoi(portText);
  return port >= 1 && port <= 65535;
}

}  // namespace mp::config
