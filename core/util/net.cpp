// Address parsing with inet_pton/inet_ntop; no name resolution ever happens here.
#include "util/net.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <charconv>
#include <cstring>

namespace mp::util {
namespace {

// The address family and bytes of a numeric address, or AF_UNSPEC.
int parse(std::string_view text, std::array<unsigned char, 16>& bytes) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return AF_UNSPEC;
  char buf[INET6_ADDRSTRLEN]{};
  std::memcpy(buf, text.data(), text.size());
  if (inet_pton(AF_INET, buf, bytes.data()) == 1) return AF_INET;
  if (inet_pton(AF_INET6, buf, bytes.data()) == 1) return AF_INET6;
  return AF_UNSPEC;
}

bool isV4Mapped(const std::array<unsigned char, 16>& b) {
  static constexpr unsigned char kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(b.data(), kPrefix, sizeof kPrefix) == 0;
}

std::string ntop(int family, const void* bytes) {
  char out[INET6_ADDRSTRLEN]{};
  if (inet_ntop(family, bytes, out, sizeof out) == nullptr) return {};
  return out;
}

}  // namespace

std::string addressText(const sockaddr& address) {
  if (address.sa_family == AF_INET) {
    return ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr);
  }
  if (address.sa_family == AF_INET6) {
    return ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(address).sin6_addr);
  }
  return {};
}

bool inCidr(std::string_view address, std::string_view cidr) {
  const auto slash = cidr.find('/');
  std::array<unsigned char, 16> a{}, n{};
  int family = parse(address, a);
  const int netFamily = parse(cidr.substr(0, slash), n);
  // A dual-stack socket reports an IPv4 client as ::ffff:a.b.c.d; an IPv4 range still holds it.
  if (family == AF_INET6 && netFamily == AF_INET && isV4Mapped(a)) {
    std::memmove(a.data(), a.data() + 12, 4);
    family = AF_INET;
  }
  if (family == AF_UNSPEC || netFamily != family) return false;
  const int width = family == AF_INET ? 32 : 128;
  int bits = width;
  if (slash != std::string_view::npos) {
    const std::string_view len = cidr.substr(slash + 1);
    const auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), bits);
    if (ec != std::errc() || end != len.data() + len.size() || bits < 0 || bits > width) {
      return false;
    }
  }
  for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
    const int mask = bits >= 8 ? 0xFF : (0xFF << (8 - bits)) & 0xFF;
    if ((a[i] & mask) != (n[i] & mask)) return false;
  }
  return true;
}

std::string addressBucket(std::string_view address) {
  std::array<unsigned char, 16> b{};
  const int family = parse(address, b);
  if (family == AF_INET) return ntop(AF_INET, b.data());
  if (family != AF_INET6) return {};
  if (isV4Mapped(b)) return ntop(AF_INET, b.data() + 12);
  std::fill(b.begin() + 8, b.end(), 0);
  return ntop(AF_INET6, b.data()) + "/64";
}

std::string addressBucket(const sockaddr& address) {
  return addressBucket(addressText(address));
}

}  // namespace mp::util
