// Writing JSON answers and the API's error shape.
#pragma once

#include <pistache/http.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

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

}  // namespace mp::http
