// Small string helpers shared by the account and website rules and the SQL writers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mp::util {

/// `s` without leading and trailing spaces, tabs, CR and LF.
inline std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

/// `parts` with `separator` between them.
inline std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out.append(separator);
    out.append(parts[i]);
  }
  return out;
}

}  // namespace mp::util
