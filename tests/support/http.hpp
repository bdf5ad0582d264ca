// A blocking HTTP client for tests (libcurl).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace mp::test {

struct HttpResponse {
  long status = 0;  ///< 0 when the request could not be made
  std::string body;
  std::map<std::string, std::string> headers;  ///< names lower-cased
  std::string error;                           ///< curl's message when status is 0
  /// Header value by lower-case name, or "".
  std::string header(const std::string& name) const;
};

/// Sends one request; `headers` are "Name: value" lines.
HttpResponse httpRequest(const std::string& method, const std::string& url,
                         const std::string& body = "", const std::vector<std::string>& headers = {},
                         long timeoutMs = 10000);

/// The same, from a local address of this machine (e.g. "127.0.0.2": all of 127/8 is loopback),
/// as a client elsewhere would appear to a proxy.
HttpResponse httpRequestFrom(const std::string& localAddress, const std::string& method,
                             const std::string& url, const std::string& body = "",
                             const std::vector<std::string>& headers = {}, long timeoutMs = 10000);

}  // namespace mp::test
