// The one typed table of configuration keys: type, default, allowed range, member and help text.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
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

/// A key's default in the terms of its type: the text of a string or enum, the number of an
/// integer, the seconds of a duration, a boolean; lists default to empty (Default{}).
struct Default {
  constexpr Default() = default;
  constexpr Default(const char* value) : text(value) {}
  constexpr Default(int value) : number(value) {}
  constexpr Default(std::int64_t value) : number(value) {}
  constexpr Default(bool value) : flag(value) {}

  std::string_view text;
  std::int64_t number = 0;
  bool flag = false;
};

/// What a key allows besides its type: a range (seconds for durations) or, for an enum, its words.
struct Limits {
  std::int64_t min = 0;
  std::int64_t max = 0;
  std::span<const std::string_view> allowed;
};

/// Access to one member of a Config holding a T.
template <class T>
struct MemberRef {
  T& (*get)(Config&);
  const T& (*cget)(const Config&);
};

/// Where a key's value lands: see member<>() in schema.cpp.
using Member = std::variant<MemberRef<std::string>, MemberRef<bool>, MemberRef<int>,
                            MemberRef<std::int64_t>, MemberRef<std::vector<std::string>>,
                            MemberRef<std::chrono::seconds>, MemberRef<std::chrono::milliseconds>>;

/// One configuration key: a row of the key table.
struct KeyDef {
  constexpr KeyDef(std::string_view sectionName, std::string_view keyName, KeyType keyType,
                   Default byDefault, Limits limits, Member where, std::string_view helpText,
                   std::string_view envVariable = {})
      : section(sectionName),
        name(keyName),
        type(keyType),
        defaultValue(byDefault),
        min(limits.min),
        max(limits.max),
        allowed(limits.allowed),
        target(where),
        help(helpText),
        env(envVariable) {}

  std::string_view section;
  std::string_view name;
  KeyType type;
  Default defaultValue;
  std::int64_t min;                           ///< kInt: smallest value; kDuration: seconds
  std::int64_t max;                           ///< kInt: largest value; kDuration: seconds
  std::span<const std::string_view> allowed;  ///< kEnum: the allowed values
  Member target;                              ///< the Config member the value lands in
  std::string_view help;
  std::string_view env;  ///< environment variable overriding it, if any

  std::string fullName() const { return std::string(section) + "." + std::string(name); }
  /// Stores a value into a Config; returns an error message (what is allowed) when it does not fit.
  std::string apply(Config& config, const Value& value) const;
  /// Stores the default.
  void setDefault(Config& config) const;
  /// The current value as a TOML literal.
  std::string show(const Config& config) const;
  /// What the key allows within its type, as messages and the manual page say it: "1 to 256"
  /// (integers), "1s to 1m" (durations), "\"full\", \"truncated\", \"none\"" (enums); empty
  /// for the other types.
  std::string allowedText() const;
};

/// Every key, in the order of the default configuration file.
std::span<const KeyDef> schema();

/// Help text of each section, in order.
const std::vector<std::pair<std::string_view, std::string_view>>& sections();

/// Reads an environment variable's text as a value of the key's type ("a,b" for lists).
Value valueFromText(const KeyDef& key, const std::string& text);

/// Parses "90", "90s", "15m", "24h", "7d" into seconds; false when malformed.
bool parseDuration(std::string_view text, std::int64_t& seconds);

}  // namespace mp::config
