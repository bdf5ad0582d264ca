// Client addresses: text form, network matching and the bucket that per-address limits count.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>

namespace mp::util {

/// The numeric text of a socket address ("192.0.2.7", "2001:db8::1"), or "" for other families.
std::string addressText(const sockaddr& address);

/// True when `address` (numeric IPv4 or IPv6) lies in `cidr` ("10.0.0.0/8", "::1",
/// "192.0.2.7"); an IPv4-mapped address ("::ffff:10.1.2.3") lies in the IPv4 ranges that hold
/// its IPv4 address. False for anything malformed.
bool inCidr(std::string_view address, std::string_view cidr);

/// The key per-address limits count by: an IPv4 address as it is, an IPv6 address as its /64
/// ("2001:db8:1:2::/64", one customer's network, which hands its hosts many addresses), an
/// IPv4-mapped IPv6 address as the IPv4 address; "" when `address` is not numeric.
std::string addressBucket(std::string_view address);
std::string addressBucket(const sockaddr& address);

}  // namespace mp::util
