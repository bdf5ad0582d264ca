// The server side of the RFC 6455 opening handshake: checking an upgrade request, computing
// Sec-WebSocket-Accept and writing the HTTP answers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ws/http_request.hpp"

namespace mp::ws {

/// What an upgrade request amounts to: acceptable, or the HTTP answer it deserves.
struct Handshake {
  /// 0 when the request is a valid WebSocket upgrade; otherwise the status to answer: 400
  /// (malformed), 405 (not GET) or 426 (not an upgrade to WebSocket version 13).
  int status = 0;
  /// The API error code of the refusal: invalid_request, method_not_allowed, upgrade_required.
  std::string code;
  /// Why the request was refused, for the answer and the log.
  std::string message;
  /// The client's Sec-WebSocket-Key when the request is acceptable.
  std::string key;

  bool ok() const noexcept { return status == 0; }
  /// The complete HTTP answer to a refused request, with the header fields its status needs
  /// (Allow for 405; Upgrade, Connection and Sec-WebSocket-Version: 13 for 426). Throws only
  /// std::bad_alloc.
  std::string response() const;
};

/// Checks a request head against RFC 6455 §4.2.1: GET, HTTP/1.1 or later, one Host, Upgrade
/// naming websocket, Connection naming upgrade, Sec-WebSocket-Version 13 and one
/// Sec-WebSocket-Key of 16 base64-encoded bytes. Path, token and Origin are left to the caller.
/// Throws only std::bad_alloc.
Handshake checkHandshake(const RequestHead& head);

/// True when `key` is the base64 encoding of 16 bytes (24 characters, "==" at the end).
bool isValidKey(std::string_view key) noexcept;

/// Sec-WebSocket-Accept for `key`: base64 of the SHA-1 of the key and the RFC 6455 GUID. Throws
/// std::runtime_error when OpenSSL fails.
std::string acceptValue(std::string_view key);

/// The complete "101 Switching Protocols" answer accepting `key`. Throws like acceptValue.
std::string acceptResponse(std::string_view key);

/// The HTTP answer to a request head `parser` refused (status Bad): 431 payload_too_large or
/// 400 invalid_request, with the parser's error() as the message. Throws only std::bad_alloc.
std::string badRequestResponse(const RequestParser& parser);

/// The reason phrase of an HTTP status the live feed answers with ("Bad Request"…).
std::string_view reasonPhrase(int status) noexcept;

/// A complete HTTP/1.1 error answer in the API's shape ({"error":{"code","message"}}), with
/// Content-Type, Content-Length, `extraHeaders` and Connection: close (unless `extraHeaders`
/// has its own Connection field). Throws only std::bad_alloc.
std::string errorResponse(int status, std::string_view code, std::string_view message,
                          const std::vector<HeaderField>& extraHeaders = {});

}  // namespace mp::ws
