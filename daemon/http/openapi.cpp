// GET /openapi.json: docs/openapi.yaml converted to JSON once, on first use.
#include "http/openapi.hpp"

#include <yaml-cpp/yaml.h>

#include <regex>
#include <stdexcept>

#include "http/response.hpp"

namespace mp::http {
namespace {

namespace Http = Pistache::Http;
using json = nlohmann::json;

// A plain (unquoted) scalar as the YAML 1.2 core schema types it.
json scalar(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted: always a string
  static const std::regex kNull("^(~|null|Null|NULL|)$");
  static const std::regex kTrue("^(true|True|TRUE)$");
  static const std::regex kFalse("^(false|False|FALSE)$");
  static const std::regex kInt("^[-+]?[0-9]+$");
  static const std::regex kFloat(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  if (std::regex_match(text, kNull)) return nullptr;
  if (std::regex_match(text, kTrue)) return true;
  if (std::regex_match(text, kFalse)) return false;
  if (std::regex_match(text, kInt)) {
    try {
      return std::stoll(text);
    } catch (const std::out_of_range&) {
      return std::stod(text);
    }
  }
  if (std::regex_match(text, kFloat)) return std::stod(text);
  return text;
}

json convert(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar(node);
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(convert(item));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& item : node) out[item.first.Scalar()] = convert(item.second);
      return out;
    }
  }
  return nullptr;
}

}  // namespace

json openApiJson() {
  try {
    return convert(YAML::Load(std::string(openApiYaml())));
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(std::string("docs/openapi.yaml: ") + e.what());
  }
}

void addOpenApiRoute(Router& router) {
  router.add(Http::Method::Get, "/openapi.json",
             [](const Http::Request&, const RouteParams&, Http::ResponseWriter& response) {
               // Converted once; the document is part of the build.
               static const std::string kBody = openApiJson().dump();
               sendJsonText(response, Http::Code::Ok, kBody);
             });
}

}  // namespace mp::http
