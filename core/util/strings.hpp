// Small string helpers shared by the account and website rules.
#pragma once

#include <string>
#include <string_view>

namespace mp::util {

/// `s` without leading and trailing spaces, tabs, CR and LF.
inline std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

}  // namespace mp::util
