// Opening handshake checks and answers. The refusals follow RFC 6455 §4.2.2 and §4.4: a
// version other than 13 gets 426 with the version the server speaks, so a client can retry.
#include "ws/handshake.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "util/base64.hpp"
#include "util/json_text.hpp"

namespace mp::ws {
namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool isBase64Char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

Handshake refuse(int status, std::string code, std::string message) {
  Handshake h;
  h.status = status;
  h.code = std::move(code);
  h.message = std::move(message);
  return h;
}

Handshake refuseBadRequest(std::string message) {
  return refuse(400, "invalid_request", std::move(message));
}

}  // namespace

bool isValidKey(std::string_view key) noexcept {
  // 16 bytes are 22 base64 characters and "==". The low bits of the 22nd character are not
  // checked: decoders ignore them, and so do clients' libraries.
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (std::size_t i = 0; i < 22; ++i) {
    if (!isBase64Char(key[i])) return false;
  }
  return true;
}

Handshake checkHandshake(const RequestHead& head) {
  if (head.method != "GET") {
    return refuse(405, "method_not_allowed", "a WebSocket handshake is a GET request");
  }
  if (head.versionMajor < 1 || (head.versionMajor == 1 && head.versionMinor < 1)) {
    return refuseBadRequest("a WebSocket handshake needs HTTP/1.1");
  }
  if (head.headerCount("Host") != 1) {
    return refuseBadRequest("exactly one Host header field is required");
  }
  if (!listHasToken(head.headerList("Upgrade"), "websocket")) {
    return refuse(426, "upgrade_required",
                  "this address serves WebSocket only: send Upgrade: websocket");
  }
  if (!listHasToken(head.headerList("Connection"), "upgrade")) {
    return refuseBadRequest("the Connection header field must contain upgrade");
  }
  const auto version = head.header("Sec-WebSocket-Version");
  if (head.headerCount("Sec-WebSocket-Version") != 1 || *version != "13") {
    return refuse(426, "upgrade_required", "Sec-WebSocket-Version must be 13");
  }
  const auto key = head.header("Sec-WebSocket-Key");
  if (head.headerCount("Sec-WebSocket-Key") != 1 || !isValidKey(*key)) {
    return refuseBadRequest("Sec-WebSocket-Key must be one base64 value of 16 bytes");
  }
  Handshake h;
  h.key = std::string(*key);
  return h;
}

std::string Handshake::response() const {
  std::vector<HeaderField> extra;
  if (status == 405) extra.push_back({"Allow", "GET"});
  if (status == 426) {
    // RFC 9110 §7.8: whoever sends Upgrade names it in Connection too.
    extra.push_back({"Connection", "Upgrade, close"});
    extra.push_back({"Upgrade", "websocket"});
    extra.push_back({"Sec-WebSocket-Version", "13"});
  }
  return errorResponse(status, code, message, extra);
}

std::string badRequestResponse(const RequestParser& parser) {
  const int status = parser.errorStatus() == 431 ? 431 : 400;
  return errorResponse(status, status == 431 ? "payload_too_large" : "invalid_request",
                       parser.error());
}

std::string acceptValue(std::string_view key) {
  std::string input;
  input.reserve(key.size() + kGuid.size());
  input.append(key);
  input.append(kGuid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &size, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL could not compute SHA-1");
  }
  return util::base64Encode(std::string_view(reinterpret_cast<const char*>(digest), size));
}

std::string acceptResponse(std::string_view key) {
  std::string out =
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ";
  out += acceptValue(key);
  out += "\r\n\r\n";
  return out;
}

std::string_view reasonPhrase(int status) noexcept {
  switch (status) {
    case 101:
      return "Switching Protocols";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

std::string errorResponse(int status, std::string_view code, std::string_view message,
                          const std::vector<HeaderField>& extraHeaders) {
  std::string body = "{\"error\":{\"code\":";
  util::appendJsonString(body, code);
  body += ",\"message\":";
  util::appendJsonString(body, message);
  body += "}}";

  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out += reasonPhrase(status);
  out += "\r\nContent-Type: application/json\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\n";
  const bool ownConnection = std::any_of(extraHeaders.begin(), extraHeaders.end(), [](auto& f) {
    return equalsIgnoreCase(f.name, "Connection");
  });
  if (!ownConnection) out += "Connection: close\r\n";
  for (const auto& field : extraHeaders) {
    out += field.name;
    out += ": ";
    out += field.value;
    out += "\r\n";
  }
  out += "\r\n";
  out += body;
  return out;
}

}  // namespace mp::ws
