// bcrypt password hashing through libcrypt ($2b$).
#pragma once

#include <string>
#include <string_view>

namespace mp::auth {

/// Smallest and largest password length in bytes (bcrypt reads at most 72).
inline constexpr std::size_t kMinPasswordBytes = 8;
inline constexpr std::size_t kMaxPasswordBytes = 72;

/// Hashes `password` as bcrypt $2b$ with `cost` (4–31); throws mp::Error on failure.
std::string hashPassword(std::string_view password, int cost);

/// True when `password` matches the stored hash; constant-time compare, never throws.
bool verifyPassword(std::string_view password, const std::string& hash) noexcept;

/// A valid hash of a random password, to spend the same time on unknown accounts.
const std::string& dummyHash(int cost);

}  // namespace mp::auth
