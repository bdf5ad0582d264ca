// GET /openapi.json: the API contract (docs/openapi.yaml, embedded at build time) as JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "http/router.hpp"

namespace mp::http {

/// The text of docs/openapi.yaml this build was made from.
std::string_view openApiYaml();

/// The contract as JSON: YAML scalars become JSON strings, numbers, booleans or null as the YAML
/// core schema reads them (quoted ones stay strings). Throws std::runtime_error on bad YAML.
nlohmann::json openApiJson();

/// Adds GET /openapi.json.
void addOpenApiRoute(Router& router);

}  // namespace mp::http
