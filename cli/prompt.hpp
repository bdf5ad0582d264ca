// Reading passwords and confirmations from a terminal or stdin.
#pragma once

#include <string>

namespace mp::cli {

/// The password from stdin's first line (fromStdin) or a no-echo prompt on the terminal, asked
/// twice when `twice`; throws InvalidInput when there is no terminal to ask or the two differ.
std::string readPassword(bool fromStdin, bool twice);

/// Asks "question [y/N]" on the terminal; throws InvalidInput when stdin is not a terminal
/// (scripts must pass --yes).
bool confirm(const std::string& question);

}  // namespace mp::cli
