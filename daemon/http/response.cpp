// JSON response helpers.
#include "http/response.hpp"

namespace mp::http {

namespace {
const Pistache::Http::Mime::MediaType& jsonType() {
  static const auto kType =
      Pistache::Http::Mime::MediaType::fromString("application/json; charset=utf-8");
  return kType;
}
}  // namespace

void sendJson(Pistache::Http::ResponseWriter& response, Pistache::Http::Code code,
              const nlohmann::json& body) {
  // Invalid UTF-8 from stored data is replaced rather than thrown mid-response.
  response.send(code, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                jsonType());
}

void sendError(Pistache::Http::ResponseWriter& response, Pistache::Http::Code status,
               std::string_view code, std::string_view message) {
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  sendJson(response, status, body);
}

void addHeader(Pistache::Http::ResponseWriter& response, const std::string& name,
               const std::string& value) {
  response.headers().addRaw(Pistache::Http::Header::Raw(name, value));
}

}  // namespace mp::http
