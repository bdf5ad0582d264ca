// bcrypt via libcrypt: crypt_gensalt_rn for the setting, crypt_rn for the hash.
#include "auth/password.hpp"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>
#include <map>
#include <mutex>

#include "util/error.hpp"

namespace mp::auth {

std::string hashPassword(std::string_view password, int cost) {
  if (password.find('\0') != std::string_view::npos) {
    throw Error("password must not contain NUL bytes");
  }
  std::array<unsigned char, 16> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    throw Error("no randomness available for a password salt");
  }
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> setting{};
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost),
                       reinterpret_cast<const char*>(random.data()),
                       static_cast<int>(random.size()), setting.data(),
                       static_cast<int>(setting.size())) == nullptr) {
    throw Error("bcrypt is not available in this libcrypt");
  }
  const std::string pw(password);
  crypt_data data{};
  const char* hash = crypt_rn(pw.c_str(), setting.data(), &data, sizeof data);
  if (hash == nullptr || hash[0] == '*') throw Error("bcrypt hashing failed");
  return hash;
}

bool verifyPassword(std::string_view password, const std::string& hash) noexcept {
  if (password.find('\0') != std::string_view::npos || hash.rfind("$2", 0) != 0) return false;
  try {
    const std::string pw(password);
    crypt_data data{};
    const char* computed = crypt_rn(pw.c_str(), hash.c_str(), &data, sizeof data);
    if (computed == nullptr || computed[0] == '*') return false;
    const std::string_view c(computed);
    return c.size() == hash.size() && CRYPTO_memcmp(c.data(), hash.data(), c.size()) == 0;
  } catch (...) {
    return false;
  }
}

const std::string& dummyHash(int cost) {
  static std::mutex mutex;
  static std::map<int, std::string> hashes;
  std::lock_guard lock(mutex);
  auto it = hashes.find(cost);
  if (it == hashes.end()) it = hashes.emplace(cost, hashPassword("dummy-password-x", cost)).first;
  return it->second;
}

}  // namespace mp::auth
