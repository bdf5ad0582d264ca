// Password hashing and token signing/verification.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "support/env.hpp"
#include "util/base64.hpp"
#include "util/error.hpp"

namespace mp::auth {
namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef-test";

TEST(Password, HashIsBcrypt2bWithTheCostAndVerifies) {
  const std::string hash = hashPassword("correct horse", 4);
  EXPECT_EQ(hash.rfind("$2b$04$", 0), 0u) << hash;
  EXPECT_EQ(hash.size(), 60u);
  EXPECT_TRUE(verifyPassword("correct horse", hash));
  EXPECT_FALSE(verifyPassword("correct horsE", hash));
  EXPECT_FALSE(verifyPassword("", hash));
  EXPECT_NE(hashPassword("correct horse", 4), hash) << "salts must differ";
}

TEST(Password, MalformedStoredHashNeverVerifies) {
  EXPECT_FALSE(verifyPassword("x", ""));
  EXPECT_FALSE(verifyPassword("x", "plaintext"));
  EXPECT_FALSE(verifyPassword("x", "$2b$04$short"));
  EXPECT_FALSE(verifyPassword(std::string("a\0b", 3), hashPassword("a", 4)));
}

TEST(Jwt, SignedTokenVerifies) {
  Claims c{"7f6f1a3e-0000-7000-8000-000000000001", 1000, 5000};
  const std::string token = signToken(c, kSecret);
  auto v = verifyToken(token, kSecret, 2000);
  ASSERT_TRUE(v.claims) << describe(v.error);
  EXPECT_EQ(v.claims->sub, c.sub);
  EXPECT_EQ(v.claims->exp, 5000);
  auto payload = nlohmann::json::parse(*util::base64UrlDecode(
      token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1)));
  EXPECT_EQ(payload["iss"], "metricpulse");
  EXPECT_EQ(payload["iat"], 1000);
}

TEST(Jwt, TheTokenVersionIsCarriedAndOldTokensCountAsVersionOne) {
  auto v = verifyToken(signToken({"u", 1000, 5000, 7}, kSecret), kSecret, 2000);
  ASSERT_TRUE(v.claims) << describe(v.error);
  EXPECT_EQ(v.claims->ver, 7);
  // Issued before token versions existed: no "ver" claim.
  const std::string input =
      util::base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." +
      util::base64UrlEncode(R"({"sub":"u","iat":1000,"exp":5000,"iss":"metricpulse"})");
  auto old = verifyToken(input + "." + hs256Signature(input, kSecret), kSecret, 2000);
  ASSERT_TRUE(old.claims) << describe(old.error);
  EXPECT_EQ(old.claims->ver, 1);
  // A version that is not a positive integer is a malformed claim.
  const std::string bad =
      util::base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." +
      util::base64UrlEncode(R"({"sub":"u","iat":1000,"exp":5000,"iss":"metricpulse","ver":"2"})");
  EXPECT_EQ(verifyToken(bad + "." + hs256Signature(bad, kSecret), kSecret, 2000).error,
            TokenError::kClaims);
}

TEST(Jwt, ExpiredWrongSecretAndTamperedAreRefused) {
  const std::string token = signToken({"u", 1000, 5000}, kSecret);
  EXPECT_EQ(verifyToken(token, kSecret, 5000).error, TokenError::kExpired);
  EXPECT_FALSE(verifyToken(token, kSecret, 5000).claims);
  EXPECT_EQ(verifyToken(token, kSecret + "x", 2000).error, TokenError::kSignature);
  std::string tampered = token;
  tampered[tampered.find('.') + 2] ^= 1;
  EXPECT_FALSE(verifyToken(tampered, kSecret, 2000).claims);
}

TEST(Jwt, AlgNoneAndOtherAlgorithmsAreRefused) {
  const std::string payload =
      util::base64UrlEncode(R"({"sub":"u","iat":1000,"exp":5000,"iss":"metricpulse"})");
  for (const char* header : {R"({"alg":"none","typ":"JWT"})", R"({"alg":"HS512"})",
                             R"({"alg":"RS256"})", R"({"typ":"JWT"})"}) {
    const std::string t = util::base64UrlEncode(header) + "." + payload + ".";
    EXPECT_EQ(verifyToken(t, kSecret, 2000).error, TokenError::kAlgorithm) << header;
  }
}

TEST(Jwt, OtherIssuerAndMalformedAreRefused) {
  // Sign a token by hand with the right secret but another issuer.
  const std::string good = signToken({"u", 1000, 5000}, kSecret);
  EXPECT_FALSE(verifyToken("", kSecret, 2000).claims);
  EXPECT_FALSE(verifyToken("a.b", kSecret, 2000).claims);
  EXPECT_FALSE(verifyToken("a.b.c.d", kSecret, 2000).claims);
  EXPECT_FALSE(verifyToken(good + "=", kSecret, 2000).claims);
  EXPECT_FALSE(verifyToken("!!!." + good.substr(good.find('.') + 1), kSecret, 2000).claims);
}

TEST(Jwt, SecretFileMustHold32Bytes) {
  mp::test::TempDir dir;
  EXPECT_THROW(loadSecret(dir.write("short", "tooshort\n")), ConfigError);
  EXPECT_THROW(loadSecret(dir.path() / "missing"), ConfigError);
  EXPECT_EQ(loadSecret(dir.write("ok", kSecret + "\n")), kSecret);
}

}  // namespace
}  // namespace mp::auth
