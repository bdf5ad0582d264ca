// Base64 and base64url encoding (OpenSSL EVP underneath).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mp::util {

/// Standard base64 with padding.
std::string base64Encode(std::string_view data);
/// base64url without padding (RFC 7515 §2).
std::string base64UrlEncode(std::string_view data);
/// Decodes base64url without padding; nullopt on any invalid character or length.
std::optional<std::string> base64UrlDecode(std::string_view text);

}  // namespace mp::util
