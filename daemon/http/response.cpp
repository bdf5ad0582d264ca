// JSON response helpers.
#include "http/response.hpp"

namespace mp::http {

namespace {

// Pistache 0.0.5 writes only typed headers into responses (raw ones are silently dropped), so
// headers it has no class for (Retry-After, WWW-Authenticate, X-Cache…) go through this one.
class NamedHeader : public Pistache::Http::Header::Header {
 public:
  NamedHeader(std::string name, std::string value)
      : name_(std::move(name)), value_(std::move(value)) {}
  const char* name() const override { return name_.c_str(); }
  void write(std::ostream& stream) const override { stream << value_; }
#ifdef SAFE_HEADER_CAST
  std::uint64_t hash() const override {
    return std::hash<std::string>{}(name_);
  }
#endif

 private:
  std::string name_;
  std::string value_;
};

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

void sendJsonText(Pistache::Http::ResponseWriter& response, Pistache::Http::Code code,
                  const std::string& body) {
  response.send(code, body, jsonType());
}

void sendError(Pistache::Http::ResponseWriter& response, Pistache::Http::Code status,
               std::string_view code, std::string_view message) {
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  sendJson(response, status, body);
}

void addHeader(Pistache::Http::ResponseWriter& response, const std::string& name,
               const std::string& value) {
  response.headers().add(std::make_shared<NamedHeader>(name, value));
}

}  // namespace mp::http
