// HS256 JWT written on OpenSSL HMAC: a dozen lines, with an alg allow-list of exactly one,
// rather than a general JWT library whose alg handling must then be audited.
#include "auth/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/base64.hpp"
#include "util/error.hpp"

namespace mp::auth {
namespace {

std::string hmacSha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return {reinterpret_cast<const char*>(out.data()), len};
}

}  // namespace

std::string signToken(const Claims& claims, std::string_view secret) {
  static const std::string kHeader = util::base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  nlohmann::json payload = {{"sub", claims.sub},
                            {"iat", claims.iat},
                            {"exp", claims.exp},
                            {"iss", kIssuer},
                            {"ver", claims.ver}};
  std::string signingInput = kHeader + "." + util::base64UrlEncode(payload.dump());
  return signingInput + "." + hs256Signature(signingInput, secret);
}

std::string hs256Signature(std::string_view signingInput, std::string_view secret) {
  return util::base64UrlEncode(hmacSha256(secret, signingInput));
}

Verified verifyToken(std::string_view token, std::string_view secret, std::int64_t now) {
  Verified v;
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return v;
  }
  auto header = util::base64UrlDecode(token.substr(0, dot1));
  auto payload = util::base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = util::base64UrlDecode(token.substr(dot2 + 1));
  if (!header || !payload || !signature) return v;

  auto h = nlohmann::json::parse(*header, nullptr, false);
  if (!h.is_object()) return v;
  // Only HS256: "none", RS256 with the secret as a public key, and the rest are refused.
  if (!h.contains("alg") || !h["alg"].is_string() || h["alg"].get<std::string>() != "HS256") {
    v.error = TokenError::kAlgorithm;
    return v;
  }
  const std::string expected = hmacSha256(secret, token.substr(0, dot2));
  if (signature->size() != expected.size() ||
      CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0) {
    v.error = TokenError::kSignature;
    return v;
  }
  auto p = nlohmann::json::parse(*payload, nullptr, false);
  if (!p.is_object() || !p.contains("sub") || !p["sub"].is_string() || !p.contains("exp") ||
      !p["exp"].is_number_integer() || !p.contains("iat") || !p["iat"].is_number_integer()) {
    v.error = TokenError::kClaims;
    return v;
  }
  if (!p.contains("iss") || !p["iss"].is_string() || p["iss"].get<std::string>() != kIssuer) {
    v.error = TokenError::kWrongIssuer;
    return v;
  }
  Claims c{p["sub"].get<std::string>(), p["iat"].get<std::int64_t>(), p["exp"].get<std::int64_t>()};
  if (p.contains("ver")) {
    if (!p["ver"].is_number_integer() || p["ver"].get<std::int64_t>() < 1) {
      v.error = TokenError::kClaims;
      return v;
    }
    c.ver = p["ver"].get<std::int64_t>();
  }
  if (c.exp <= now) {
    v.error = TokenError::kExpired;
    return v;
  }
  v.claims = std::move(c);
  return v;
}

const char* describe(TokenError error) {
  switch (error) {
    case TokenError::kMalformed:
      return "malformed token";
    case TokenError::kAlgorithm:
      return "algorithm other than HS256";
    case TokenError::kSignature:
      return "bad signature";
    case TokenError::kExpired:
      return "token expired";
    case TokenError::kWrongIssuer:
      return "wrong issuer";
    case TokenError::kClaims:
      return "missing or malformed claims";
  }
  return "invalid token";
}

std::string loadSecret(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw ConfigError("auth.jwt_secret_file: cannot read \"" + file.string() +
                      "\"; create one with: openssl rand -hex 32 > " + file.string());
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string secret = ss.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.size() < kMinSecretBytes) {
    throw ConfigError("auth.jwt_secret_file: \"" + file.string() + "\" holds " +
                      std::to_string(secret.size()) + " bytes; at least " +
                      std::to_string(kMinSecretBytes) + " are needed (openssl rand -hex 32)");
  }
  return secret;
}

}  // namespace mp::auth
