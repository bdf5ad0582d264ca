// HS256 JSON Web Tokens: signing and strict verification (only HS256 is ever accepted).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace mp::auth {

/// The issuer every MetricPulse token carries.
inline constexpr std::string_view kIssuer = "metricpulse";
/// Shortest signing secret accepted, in bytes.
inline constexpr std::size_t kMinSecretBytes = 32;

struct Claims {
  std::string sub;       ///< user id
  std::int64_t iat = 0;  ///< issued at, seconds since the epoch
  std::int64_t exp = 0;  ///< expiry, seconds since the epoch
  std::int64_t ver = 1;  ///< the account's token version at issue (tokens without one: 1)
};

/// Why a token was refused (never shown to clients in detail).
enum class TokenError { kMalformed, kAlgorithm, kSignature, kExpired, kWrongIssuer, kClaims };

struct Verified {
  std::optional<Claims> claims;  ///< set when the token is valid
  TokenError error = TokenError::kMalformed;
};

/// Signs claims (with iss = kIssuer) using HMAC-SHA256.
std::string signToken(const Claims& claims, std::string_view secret);

/// The base64url HS256 signature of a JWS signing input ("header.payload").
std::string hs256Signature(std::string_view signingInput, std::string_view secret);

/// Verifies signature (constant time), alg == HS256, iss, exp > now, and a positive integer ver
/// when present. Whether the account still exists with that version is the caller's check.
Verified verifyToken(std::string_view token, std::string_view secret, std::int64_t now);

/// Human text for a TokenError (for logs).
const char* describe(TokenError error);

/// Reads the signing secret (trailing newline trimmed); throws ConfigError when unreadable or
/// short.
std::string loadSecret(const std::filesystem::path& file);

}  // namespace mp::auth
