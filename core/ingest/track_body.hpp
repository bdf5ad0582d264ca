// The JSON body of POST /track, read straight into the fields the tracker knows.
//
// nlohmann's parser checks the whole text (syntax, UTF-8, surrogates) exactly as its DOM parse
// would, but no document is built for the top-level object: each known key's value lands in
// its field, unknown keys are checked and dropped, and only "props" becomes a JSON value (its
// keys are the client's own). A repeated key keeps its last value, as a DOM parse does.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace mp::ingest {

/// One top-level value as the body gives it.
struct BodyValue {
  enum class Kind : std::uint8_t {
    kAbsent,   ///< the key is not in the body
    kNull,     ///< null
    kString,   ///< `text`
    kBool,     ///< `flag`
    kInteger,  ///< `integer`: an integer that fits 64 bits (signed, or unsigned: `isUnsigned`)
    kFloat,    ///< `number`: a number with a fraction or exponent, or beyond 64 bits
    kObject,   ///< an object (its content is kept only for "props")
    kArray,    ///< an array (not kept)
  };
  Kind kind = Kind::kAbsent;
  bool flag = false;
  bool isUnsigned = false;
  std::uint64_t integer = 0;  ///< the bits of the integer; signed unless `isUnsigned`
  double number = 0;
  std::string text;

  bool absentOrNull() const { return kind == Kind::kAbsent || kind == Kind::kNull; }
};

/// The fields of a /track body (API.md), each as sent.
struct TrackBody {
  BodyValue websiteId;
  BodyValue eventType;
  BodyValue interactive;
  BodyValue url;
  BodyValue hashMode;
  BodyValue referrer;
  BodyValue sessionId;
  BodyValue ip;
  BodyValue userAgent;
  BodyValue timestamp;
  BodyValue props;                         ///< kind kObject: its value is `propsValue`
  nlohmann::json propsValue;               ///< the "props" object, when it is one
  std::optional<std::string> inexactProp;  ///< key of the first number directly in "props" a
                                           ///< double cannot hold exactly (1e-400, 2^70)
};

/// Reads a body. Throws InvalidInput ("body") when it is not JSON (or not UTF-8, or holds a
/// lone surrogate) or not an object.
TrackBody parseTrackBody(const std::string& text);

}  // namespace mp::ingest
