// Event encodings: short keys in the queue (it is read millions of times), API names on the wire;
// both written by hand (util/json_text.hpp), as every tracked event is serialised twice.
#include "events/event.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

#include "util/error.hpp"
#include "util/json_text.hpp"
#include "util/time.hpp"

namespace mp::events {
namespace {

using json = nlohmann::json;

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string()) throw Error(std::string("queued event: ") + key + " is not a string");
  return it->get<std::string>();
}

// A reader for exactly what toQueueJson() writes (a flat object of strings, integers and nulls):
// the writers read every event back, and a DOM per event cost them more than the COPY. Anything
// else it cannot read, it leaves to the general parser (fromQueueJsonDom).
class FlatReader {
 public:
  explicit FlatReader(std::string_view text) : s_(text) {}

  bool read(Event& e) {
    bool hasTime = false;
    skipSpace();
    if (!eat('{')) return false;
    skipSpace();
    if (eat('}')) return false;
    for (;;) {
      std::string key;
      skipSpace();
      if (!string(key)) return false;
      skipSpace();
      if (!eat(':')) return false;
      skipSpace();
      if (key == "n") {
        if (s_.substr(pos_, 4) == "true") {
          pos_ += 4;
          e.interactive = true;
        } else if (s_.substr(pos_, 5) == "false") {
          pos_ += 5;
          e.interactive = false;
        } else {
          return false;
        }
      } else if (key == "t" || key == "v") {
        std::int64_t n = 0;
        if (!integer(n)) return false;
        if (key == "t") {
          e.tsMillis = n;
          hasTime = true;
        } else {
          e.visitorId = n;
        }
      } else if (std::string* field = stringField(e, key)) {
        if (s_.substr(pos_, 4) == "null") {
          pos_ += 4;
          field->clear();
        } else if (!string(*field)) {
          return false;
        }
      } else {
        return false;  // an unknown key: let the general parser decide
      }
      skipSpace();
      if (eat('}')) break;
      if (!eat(',')) return false;
    }
    skipSpace();
    return pos_ == s_.size() && hasTime && !e.id.empty() && !e.websiteId.empty();
  }

 private:
  // By length and letter rather than a chain of string comparisons: this runs for every field
  // of every queued event.
  static std::string* stringField(Event& e, const std::string& key) {
    if (key.size() == 1) {
      switch (key[0]) {
        case 'i':
          return &e.id;
        case 'w':
          return &e.websiteId;
        case 'y':
          return &e.eventType;
        case 'p':
          return &e.page;
        case 'u':
          return &e.url;
        case 'h':
          return &e.hostname;
        case 'r':
          return &e.referrer;
        case 's':
          return &e.sessionId;
        case 'b':
          return &e.browser;
        case 'o':
          return &e.os;
        case 'd':
          return &e.device;
        case 'c':
          return &e.country;
        default:
          return nullptr;
      }
    }
    if (key.size() != 2) return nullptr;
    if (key == "rh") return &e.referrerHost;
    if (key == "ua") return &e.userAgent;
    if (key == "ip") return &e.ip;
    if (key == "pr") return &e.props;
    return nullptr;
  }

  void skipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool integer(std::int64_t& n) {
    const char* begin = s_.data() + pos_;
    const auto [end, ec] = std::from_chars(begin, s_.data() + s_.size(), n);
    if (ec != std::errc() || end == begin) return false;
    pos_ += static_cast<std::size_t>(end - begin);
    return true;
  }
  bool hex4(std::uint32_t& cp) {
    if (pos_ + 4 > s_.size()) return false;
    cp = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[pos_++];
      cp <<= 4;
      if (c >= '0' && c <= '9')
        cp |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        cp |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        cp |= static_cast<std::uint32_t>(c - 'A' + 10);
      else
        return false;
    }
    return true;
  }
  static void appendUtf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  bool string(std::string& out) {
    out.clear();
    if (!eat('"')) return false;
    for (;;) {
      const std::size_t start = pos_;
      while (pos_ < s_.size() && s_[pos_] != '"' && s_[pos_] != '\\' &&
             static_cast<unsigned char>(s_[pos_]) >= 0x20) {
        ++pos_;
      }
      out.append(s_.data() + start, pos_ - start);
      if (pos_ >= s_.size()) return false;
      const char c = s_[pos_++];
      if (c == '"') return true;
      if (c != '\\' || pos_ >= s_.size()) return false;  // a raw control character
      switch (s_[pos_++]) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            std::uint32_t low = 0;
            if (!eat('\\') || !eat('u') || !hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return false;
          }
          appendUtf8(out, cp);
          break;
        }
        default:
          return false;
      }
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string toQueueJson(const Event& e) {
  std::string out;
  out.reserve(256 + e.url.size() + e.referrer.size() + e.userAgent.size() + e.props.size());
  const auto field = [&out](std::string_view key, std::string_view value) {
    out.push_back(',');
    util::appendJsonKey(out, key);
    util::appendJsonString(out, value);
  };
  out.push_back('{');
  util::appendJsonKey(out, "i");
  util::appendJsonString(out, e.id);
  field("w", e.websiteId);
  out.append(",\"t\":", 5);
  util::appendJsonInt(out, e.tsMillis);
  field("y", e.eventType);
  field("p", e.page);
  field("u", e.url);
  field("h", e.hostname);
  field("r", e.referrer);
  field("rh", e.referrerHost);
  field("s", e.sessionId);
  out.append(",\"v\":", 5);
  util::appendJsonInt(out, e.visitorId);
  field("ua", e.userAgent);
  field("b", e.browser);
  field("o", e.os);
  field("d", e.device);
  field("c", e.country);
  field("ip", e.ip);
  field("pr", e.props);
  // Written only when false, so the common entry stays as it was (and as older daemons read it).
  if (!e.interactive) out.append(",\"n\":false", 10);
  out.push_back('}');
  return out;
}

// The general reader: any JSON object, with precise errors for what is wrong.
static Event fromQueueJsonDom(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) throw Error("queued event is not a JSON object");
  Event e;
  e.id = str(j, "i");
  e.websiteId = str(j, "w");
  if (e.id.empty() || e.websiteId.empty() || !j.contains("t") || !j["t"].is_number_integer()) {
    throw Error("queued event lacks its id, website or time");
  }
  e.tsMillis = j["t"].get<std::int64_t>();
  e.eventType = str(j, "y");
  e.page = str(j, "p");
  e.url = str(j, "u");
  e.hostname = str(j, "h");
  e.referrer = str(j, "r");
  e.referrerHost = str(j, "rh");
  e.sessionId = str(j, "s");
  e.visitorId = j.value("v", std::int64_t{0});
  e.userAgent = str(j, "ua");
  e.browser = str(j, "b");
  e.os = str(j, "o");
  e.device = str(j, "d");
  e.country = str(j, "c");
  e.ip = str(j, "ip");
  e.props = str(j, "pr");
  if (const auto it = j.find("n"); it != j.end()) {
    if (!it->is_boolean()) throw Error("queued event: n is not a boolean");
    e.interactive = it->get<bool>();
  }
  return e;
}

Event fromQueueJson(std::string_view text) {
  Event e;
  if (FlatReader(text).read(e)) return e;
  return fromQueueJsonDom(text);
}

std::string liveFeedFrame(const Event& e) {
  std::string out;
  out.reserve(224 + e.url.size() + e.referrer.size());
  const auto field = [&out](std::string_view key, std::string_view value) {
    out.push_back(',');
    util::appendJsonKey(out, key);
    util::appendJsonString(out, value);
  };
  const auto nullable = [&out, &field](std::string_view key, std::string_view value) {
    if (!value.empty()) return field(key, value);
    out.push_back(',');
    util::appendJsonKey(out, key);
    out.append("null", 4);
  };
  out.append("{\"type\":\"event\"");
  field("websiteId", e.websiteId);
  field("eventType", e.eventType);
  field("page", e.page);
  field("url", e.url);
  nullable("referrer", e.referrer);
  field("sessionId", e.sessionId);
  field("timestamp", util::formatRfc3339Millis(e.tsMillis));
  field("browser", e.browser);
  field("os", e.os);
  field("device", e.device);
  nullable("country", e.country);
  out.push_back('}');
  return out;
}

}  // namespace mp::events
