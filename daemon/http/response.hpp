// Writing JSON answers and the API's error shape.
#pragma once

#include <pistache/http.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mp::http {

/// Sends `body`, already JSON text, with the JSON media type (hot paths with fixed bodies).
void sendJsonText(Pistache::Http::ResponseWriter& response, Pistache::Http::Code code,
                  const std::string& body);

/// Sends `body` as application/json with `code`.
void sendJson(Pistache::Http::ResponseWriter& response, Pistache::Http::Code code,
              const nlohmann::json& body);

/// Sends {"error":{"code","message"}} with `status`.
void sendError(Pistache::Http::ResponseWriter& response, Pistache::Http::Code status,
               std::string_view code, std::string_view message);

/// Adds a response header by name (for headers Pistache has no class for).
void addHeader(Pistache::Http::ResponseWriter& response, const std::string& name,
               const std::string& value);

/// The body sendError() sends: {"error":{"code","message"}}.
std::string errorBody(std::string_view code, std::string_view message);

/// Extra response headers, by name.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// A whole JSON response as bytes on the wire, as ResponseWriter would write it: the status line
/// of `version`, Content-Type JSON, `headers`, Access-Control-Allow-Origin: * when `cors`,
/// Connection (Keep-Alive or Close), Content-Length and `body`. For answers written through an
/// Outbox.
std::string jsonResponseBytes(Pistache::Http::Version version, bool keepAlive,
                              Pistache::Http::Code status, const HeaderList& headers, bool cors,
                              std::string_view body);

}  // namespace mp::http
