#include "ingest/track_body.hpp"

#include <bit>
#include <string_view>

#include "util/error.hpp"
#include "util/json_text.hpp"

namespace mp::ingest {
namespace {

using json = nlohmann::json;
using DomParser = nlohmann::detail::json_sax_dom_parser<json>;
using Kind = BodyValue::Kind;

BodyValue* fieldNamed(TrackBody& body, std::string_view key) {
  switch (key.size()) {
    case 2:
      if (key == "ip") return &body.ip;
      break;
    case 3:
      if (key == "url") return &body.url;
      break;
    case 5:
      if (key == "props") return &body.props;
      break;
    case 8:
      if (key == "referrer") return &body.referrer;
      if (key == "hashMode") return &body.hashMode;
      break;
    case 9:
      if (key == "websiteId") return &body.websiteId;
      if (key == "eventType") return &body.eventType;
      if (key == "sessionId") return &body.sessionId;
      if (key == "timestamp") return &body.timestamp;
      if (key == "userAgent") return &body.userAgent;
      break;
    case 11:
      if (key == "interactive") return &body.interactive;
      break;
    default:
      break;
  }
  return nullptr;
}

// nlohmann's SAX interface. Depth 0 is the top-level value, depth 1 the values of the body's
// keys; while "props" is open its events go to a DOM parser building `propsValue`.
class Reader {
 public:
  explicit Reader(TrackBody& body) : body_(body) {}

  /// Whether the top-level value was an object.
  bool isObject() const { return isObject_; }

  bool null() {
    if (props_) return props_->null();
    if (BodyValue* v = target()) set(*v, Kind::kNull);
    return true;
  }
  bool boolean(bool value) {
    if (props_) return props_->boolean(value);
    if (BodyValue* v = target()) set(*v, Kind::kBool).flag = value;
    return true;
  }
  bool number_integer(json::number_integer_t value) {
    if (props_) return props_->number_integer(value);
    if (BodyValue* v = target())
      set(*v, Kind::kInteger).integer = std::bit_cast<std::uint64_t>(value);
    return true;
  }
  bool number_unsigned(json::number_unsigned_t value) {
    if (props_) return props_->number_unsigned(value);
    if (BodyValue* v = target()) {
      set(*v, Kind::kInteger).integer = value;
      v->isUnsigned = true;
    }
    return true;
  }
  bool number_float(json::number_float_t value, const json::string_t& text) {
    if (props_) {
      // jsonb would keep the decimal that was sent; a double that does not hold it would alter
      // the event once stored. Only numbers with a fraction, an exponent or more than 64 bits
      // come here, and rarely.
      if (depth_ == 2 && !body_.inexactProp && !util::sameJsonNumber(text, json(value).dump())) {
        body_.inexactProp = propsKey_;
      }
      return props_->number_float(value, text);
    }
    if (BodyValue* v = target()) set(*v, Kind::kFloat).number = value;
    return true;
  }
  bool string(json::string_t& value) {
    if (props_) return props_->string(value);
    if (BodyValue* v = target()) set(*v, Kind::kString).text = std::move(value);
    return true;
  }
  bool binary(json::binary_t& value) {
    if (props_) return props_->binary(value);
    return true;  // not produced by JSON text
  }

  bool start_object(std::size_t elements) {
    if (props_) return open(), props_->start_object(elements);
    if (depth_ == 0) isObject_ = true;
    if (BodyValue* v = target()) {
      set(*v, Kind::kObject);
      if (v == &body_.props) {
        body_.propsValue = json();
        body_.inexactProp.reset();
        props_.emplace(body_.propsValue, false);
        return open(), props_->start_object(elements);
      }
    }
    return open(), true;
  }
  bool end_object() {
    --depth_;
    if (!props_) return true;
    const bool ok = props_->end_object();
    if (depth_ == 1) props_.reset();
    return ok;
  }
  bool start_array(std::size_t elements) {
    if (props_) return open(), props_->start_array(elements);
    if (BodyValue* v = target()) set(*v, Kind::kArray);
    return open(), true;
  }
  bool end_array() {
    --depth_;
    return props_ ? props_->end_array() : true;
  }
  bool key(json::string_t& key) {
    if (props_) {
      if (depth_ == 2) propsKey_ = key;
      return props_->key(key);
    }
    if (depth_ == 1) field_ = isObject_ ? fieldNamed(body_, key) : nullptr;
    return true;
  }

  bool parse_error(std::size_t /*position*/, const std::string& /*lastToken*/,
                   const nlohmann::detail::exception& /*error*/) {
    return false;
  }

 private:
  void open() { ++depth_; }

  // The field a value at this point belongs to, if the tracker knows it.
  BodyValue* target() const { return depth_ == 1 ? field_ : nullptr; }

  static BodyValue& set(BodyValue& v, Kind kind) {
    v = BodyValue{};
    v.kind = kind;
    return v;
  }

  TrackBody& body_;
  int depth_ = 0;
  bool isObject_ = false;
  BodyValue* field_ = nullptr;  // of the key just read at depth 1
  std::optional<DomParser> props_;
  std::string propsKey_;
};

}  // namespace

TrackBody parseTrackBody(const std::string& text) {
  TrackBody body;
  Reader reader(body);
  if (!json::sax_parse(text, &reader)) {
    throw InvalidInput("body", "the body is not valid JSON (or not UTF-8)");
  }
  if (!reader.isObject()) throw InvalidInput("body", "the body must be a JSON object");
  return body;
}

}  // namespace mp::ingest
