// Base64 via OpenSSL's EVP block functions, with the URL-safe alphabet mapped by hand.
#include "util/base64.hpp"

#include <openssl/evp.h>

#include <vector>

namespace mp::util {

std::string base64Encode(std::string_view data) {
  std::vector<unsigned char> out(4 * ((data.size() + 2) / 3) + 1);
  const int n = EVP_EncodeBlock(out.data(), reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  return {reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(n)};
}

std::string base64UrlEncode(std::string_view data) {
  std::string s = base64Encode(data);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

std::optional<std::string> base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string s;
  s.reserve(text.size() + 3);
  for (char c : text) {
    if (c == '-') {
      s += '+';
    } else if (c == '_') {
      s += '/';
    } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      s += c;
    } else {
      return std::nullopt;  // '+', '/', '=' and anything else are not base64url
    }
  }
  const std::size_t padding = (4 - s.size() % 4) % 4;
  s.append(padding, '=');
  std::vector<unsigned char> out(3 * s.size() / 4 + 1);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(s.data()),
                                static_cast<int>(s.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  return std::string(reinterpret_cast<const char*>(out.data()),
                     static_cast<std::size_t>(n) - padding);
}

}  // namespace mp::util
