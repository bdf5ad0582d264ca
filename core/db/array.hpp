// PostgreSQL array literals, for passing a list as one text parameter ($1::text[]).
#pragma once

#include <string>
#include <vector>

namespace mp::db {

/// The array literal of `values`, each quoted ("{\"a\",\"b \\\"c\\\"\"}"), to be cast to text[]
/// or another array type in the statement. Any text may be in it but NUL, which a parameter
/// cannot carry.
std::string arrayLiteral(const std::vector<std::string>& values);

}  // namespace mp::db
