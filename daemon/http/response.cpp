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

std::string errorBody(std::string_view code, std::string_view message) {
  const nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void sendError(Pistache::Http::ResponseWriter& response, Pistache::Http::Code status,
               std::string_view code, std::string_view message) {
  response.send(status, errorBody(code, message), jsonType());
}

void addHeader(Pistache::Http::ResponseWriter& response, const std::string& name,
               const std::string& value) {
  response.headers().add(std::make_shared<NamedHeader>(name, value));
}

std::string jsonResponseBytes(Pistache::Http::Version version, bool keepAlive,
                              Pistache::Http::Code status, const HeaderList& headers, bool cors,
                              std::string_view body) {
  std::string out;
  out.reserve(160 + body.size());
  out += version == Pistache::Http::Version::Http10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(static_cast<int>(status));
  out += ' ';
  out += Pistache::Http::codeString(status);
  out += "\r\nContent-Type: application/json; charset=utf-8\r\n";
  for (const auto& [name, value] : headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (cors) out += "Access-Control-Allow-Origin: *\r\n";
  out += keepAlive ? "Connection: Keep-Alive\r\n" : "Connection: Close\r\n";
  out += "Content-Length: ";
  out += std::to_string(body.size());
  out += "\r\n\r\n";
  out += body;
  return out;
}

}  // namespace mp::http
