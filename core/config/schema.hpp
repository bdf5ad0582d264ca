// The one typed table of configuration keys: type, default, allowed range and help text.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace mp::config {

/// The TOML type a key takes.
enum class KeyType { kString, kInt, kBool, kStringList, kDuration, kEnum };

/// A value as read from TOML or the environment, before it is checked against its key.
struct Value {
  enum class Kind { kString, kInt, kBool, kList, kOther } kind = Kind::kOther;
  std::string text;          ///< kString
  std::int64_t integer = 0;  ///< kInt
  bool boolean = false;      ///< kBool
  std::vector<Value> items;  ///< kList
  std::string typeName;      ///< TOML type name, for messages
};

/// One configuration key.
struct KeyDef {
  std::string_view section;
  std::string_view name;
  KeyType type;
  std::string_view help;
  std::int64_t min = 0;                   ///< kInt: smallest value; kDuration: seconds
  std::int64_t max = 0;                   ///< kInt: largest value; kDuration: seconds
  std::vector<std::string_view> allowed;  ///< kEnum: the allowed values
  std::string_view env;                   ///< environment variable overriding it, if any
  /// Stores a value into a Config; returns an error message (what is allowed) when it does not fit.
  std::function<std::string(Config&, const Value&)> apply;
  /// Stores the default.
  std::function<void(Config&)> setDefault;
  /// The current value as a TOML literal.
  std::function<std::string(const Config&)> show;

  std::string fullName() const { return std::string(section) + "." + std::string(name); }
};

/// Every key, in the order of the default configuration file.
const std::vector<KeyDef>& schema();

/// Help text of each section, in order.
const std::vector<std::pair<std::string_view, std::string_view>>& sections();

/// Reads an environment variable's text as a value of the key's type ("a,b" for lists).
Value valueFromText(const KeyDef& key, const std::string& text);

/// Parses "90", "90s", "15m", "24h", "7d" into seconds; false when malformed.
bool parseDuration(std::string_view text, std::int64_t& seconds);

}  // namespace mp::config
