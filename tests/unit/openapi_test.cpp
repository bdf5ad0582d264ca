// Keeps docs/openapi.yaml honest: every route in the daemon's route tables and every error code it
// answers is in the document, and every reference in it points at a defined component. Read as
// text, line by line, relying only on the document's block-style layout (two-space indentation).
#include "http/openapi.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "http/router.hpp"
#include "server.hpp"
#include "support/env.hpp"

namespace mp::test {
namespace {

std::string readDocument() {
  std::ifstream in(sourcePath("docs/openapi.yaml"));
  EXPECT_TRUE(in) << "cannot open " << sourcePath("docs/openapi.yaml");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

std::size_t indentOf(const std::string& line) {
  return line.find_first_not_of(' ');
}

bool blankOrComment(const std::string& line) {
  const auto first = line.find_first_not_of(' ');
  return first == std::string::npos || line[first] == '#';
}

// The key of a "key:" or "key: value" line at exactly `indent` spaces, quotes removed; empty when
// the line is something else.
std::string keyAt(const std::string& line, std::size_t indent) {
  if (blankOrComment(line) || indentOf(line) != indent) return {};
  std::string rest = line.substr(indent);
  if (rest.rfind("- ", 0) == 0) return {};
  if (rest.front() == '\'' || rest.front() == '"') {
    const auto close = rest.find(rest.front(), 1);
    if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':') return {};
    return rest.substr(1, close - 1);
  }
  const auto colon = rest.find(':');
  if (colon == std::string::npos) return {};
  if (colon + 1 < rest.size() && rest[colon + 1] != ' ') return {};
  return rest.substr(0, colon);
}

// The lines of the block under the top-level key `name` (up to the next top-level key).
std::vector<std::string> topLevelBlock(const std::vector<std::string>& all,
                                       const std::string& name) {
  std::vector<std::string> out;
  bool inside = false;
  for (const auto& line : all) {
    if (!blankOrComment(line) && indentOf(line) == 0) {
      inside = keyAt(line, 0) == name;
      continue;
    }
    if (inside) out.push_back(line);
  }
  return out;
}

// Path key -> the HTTP methods under it.
std::map<std::string, std::set<std::string>> documentedOperations(
    const std::vector<std::string>& all) {
  static const std::set<std::string> kMethods = {"get",     "put",  "post",  "delete",
                                                 "options", "head", "patch", "trace"};
  std::map<std::string, std::set<std::string>> out;
  std::string path;
  for (const auto& line : topLevelBlock(all, "paths")) {
    if (auto key = keyAt(line, 2); !key.empty()) {
      path = key;
      out[path];
    } else if (auto method = keyAt(line, 4); !path.empty() && kMethods.count(method)) {
      out[path].insert(method);
    }
  }
  return out;
}

// Component section ("schemas", "responses", …) -> the names defined in it.
std::map<std::string, std::set<std::string>> definedComponents(
    const std::vector<std::string>& all) {
  std::map<std::string, std::set<std::string>> out;
  std::string section;
  for (const auto& line : topLevelBlock(all, "components")) {
    if (auto key = keyAt(line, 2); !key.empty()) {
      section = key;
    } else if (auto name = keyAt(line, 4); !section.empty() && !name.empty()) {
      out[section].insert(name);
    }
  }
  return out;
}

// The lines of components/<section>/<name>, its own key line excluded.
std::vector<std::string> componentBlock(const std::vector<std::string>& all,
                                        const std::string& section, const std::string& name) {
  std::vector<std::string> out;
  bool inSection = false, inside = false;
  for (const auto& line : topLevelBlock(all, "components")) {
    if (blankOrComment(line)) continue;
    const std::size_t indent = indentOf(line);
    if (indent == 2) {
      inSection = keyAt(line, 2) == section;
      inside = false;
    } else if (indent == 4) {
      inside = inSection && keyAt(line, 4) == name;
    } else if (inside) {
      out.push_back(line);
    }
  }
  return out;
}

// The items of the block-style `enum:` list directly under components/schemas/<schema>.
std::vector<std::string> enumOfSchema(const std::vector<std::string>& all,
                                      const std::string& schema) {
  std::vector<std::string> out;
  bool inEnum = false;
  for (const auto& line : componentBlock(all, "schemas", schema)) {
    if (keyAt(line, 6) == "enum") {
      inEnum = true;
    } else if (inEnum && indentOf(line) > 6 && line.compare(indentOf(line), 2, "- ") == 0) {
      out.push_back(line.substr(indentOf(line) + 2));
    } else {
      inEnum = false;
    }
  }
  return out;
}

class OpenApi : public ::testing::Test {
 protected:
  void SetUp() override {
    text_ = readDocument();
    lines_ = lines(text_);
    ASSERT_FALSE(lines_.empty());
  }
  std::string text_;
  std::vector<std::string> lines_;
};

TEST_F(OpenApi, IsAnOpenApi303DocumentInBlockStyleYaml) {
  EXPECT_EQ(lines_.front(), "openapi: 3.0.3");
  for (const auto& key : {"info", "servers", "tags", "paths", "components"}) {
    EXPECT_FALSE(topLevelBlock(lines_, key).empty()) << "top-level key missing: " << key;
  }
  for (std::size_t i = 0; i < lines_.size(); ++i) {
    // YAML forbids tabs in indentation; the document keeps to two-space steps.
    EXPECT_EQ(lines_[i].find('\t'), std::string::npos) << "tab on line " << i + 1;
    if (!blankOrComment(lines_[i])) {
      EXPECT_EQ(indentOf(lines_[i]) % 2, 0u) << "odd indentation on line " << i + 1;
    }
  }
}

// Path -> lower-case methods, from the daemon's own route tables (the public API and the
// metrics listener), so the document cannot drift from what is served.
std::map<std::string, std::set<std::string>> servedOperations() {
  http::Router api, metrics;
  daemon::Server::addApiRoutes(api, nullptr);
  daemon::Server::addMetricsRoutes(metrics, nullptr);
  std::map<std::string, std::set<std::string>> out;
  for (const auto* router : {&api, &metrics}) {
    for (const auto& route : router->routes()) {
      std::string method(Pistache::Http::methodString(route.method));
      std::transform(method.begin(), method.end(), method.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      out[route.pattern].insert(method);
    }
  }
  return out;
}

TEST_F(OpenApi, DocumentsEveryRouteTheDaemonServes) {
  const auto served = servedOperations();
  ASSERT_GT(served.size(), 10u);
  ASSERT_TRUE(served.count("/openapi.json"));
  const auto documented = documentedOperations(lines_);
  for (const auto& [path, methods] : served) {
    auto it = documented.find(path);
    ASSERT_NE(it, documented.end()) << "path missing from docs/openapi.yaml: " << path;
    EXPECT_EQ(it->second, methods) << "methods of " << path;
  }
  for (const auto& [path, methods] : documented) {
    EXPECT_TRUE(served.count(path)) << "documented path the daemon does not serve: " << path;
  }
}

TEST_F(OpenApi, MetricsAreServedOnlyOnTheirOwnListener) {
  http::Router api;
  daemon::Server::addApiRoutes(api, nullptr);
  for (const auto& route : api.routes()) EXPECT_NE(route.pattern, "/metrics");
}

TEST_F(OpenApi, TheDaemonCarriesThisDocumentAsJson) {
  // Embedded at build time: the daemon serves the document it was built with.
  EXPECT_EQ(std::string(http::openApiYaml()), text_);
  const auto doc = http::openApiJson();
  EXPECT_EQ(doc["openapi"], "3.0.3");
  std::set<std::string> paths;
  for (const auto& [path, item] : doc["paths"].items()) paths.insert(path);
  std::set<std::string> documented;
  for (const auto& [path, methods] : documentedOperations(lines_)) documented.insert(path);
  EXPECT_EQ(paths, documented);
  // Quoted status codes stay strings; plain numbers become numbers.
  EXPECT_TRUE(doc["paths"]["/track"]["post"]["responses"].contains("202"));
}

TEST_F(OpenApi, ErrorCodeEnumListsEveryCode) {
  const std::set<std::string> kCodes = {
      "invalid_request",  "unauthorized",    "forbidden",         "not_found",
      "email_taken",      "domain_taken",    "signup_disabled",   "invalid_credentials",
      "unknown_website",  "domain_mismatch", "payload_too_large", "unsupported_media_type",
      "rate_limited",     "unavailable",     "internal",          "method_not_allowed",
      "upgrade_required",  // the live feed's handshake without a WebSocket upgrade
      "goal_exists",      "goal_in_use",     "too_many_goals",    "funnel_exists",
      "too_many_funnels", "too_many_shares",
  };
  const auto listed = enumOfSchema(lines_, "ErrorCode");
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), kCodes);
  EXPECT_EQ(listed.size(), kCodes.size()) << "the enum must list each code exactly once";
  // The Error schema uses that enum for its code.
  EXPECT_NE(text_.find("$ref: '#/components/schemas/ErrorCode'"), std::string::npos);
}

TEST_F(OpenApi, EveryReferenceNamesADefinedComponent) {
  const auto defined = definedComponents(lines_);
  for (const auto& needed :
       {"BadRequest", "Unauthorized", "NotFound", "RateLimited", "Unavailable", "PayloadTooLarge",
        "UnsupportedMediaType", "MethodNotAllowed", "Internal"}) {
    EXPECT_TRUE(defined.count("responses") && defined.at("responses").count(needed))
        << "responses/" << needed;
  }
  for (const auto& needed : {"Error", "User", "Website", "Token", "TrackEvent", "Overview",
                             "TopPages", "Realtime", "Timeseries", "Breakdown"}) {
    EXPECT_TRUE(defined.count("schemas") && defined.at("schemas").count(needed))
        << "schemas/" << needed;
  }
  EXPECT_TRUE(defined.count("securitySchemes") &&
              defined.at("securitySchemes").count("bearerAuth"));

  const std::regex ref(R"(\$ref: '#/components/([A-Za-z]+)/([A-Za-z0-9_.-]+)')");
  int count = 0;
  for (std::sregex_iterator it(text_.begin(), text_.end(), ref), end; it != end; ++it, ++count) {
    const std::string section = (*it)[1], name = (*it)[2];
    EXPECT_TRUE(defined.count(section) && defined.at(section).count(name))
        << "dangling $ref to components/" << section << "/" << name;
  }
  EXPECT_GT(count, 50);
}

TEST_F(OpenApi, AnswersCarryTheHeadersTheContractPromises) {
  // Each of these responses must declare its header, right under its own definition.
  const std::vector<std::pair<std::string, std::string>> kHeaders = {
      {"Unauthorized", "WWW-Authenticate"},
      {"RateLimited", "Retry-After"},
      {"Unavailable", "Retry-After"},
      {"MethodNotAllowed", "Allow"},
  };
  for (const auto& [response, headerName] : kHeaders) {
    const auto block = componentBlock(lines_, "responses", response);
    ASSERT_FALSE(block.empty()) << "responses/" << response << " is missing";
    bool inHeaders = false, found = false;
    for (const auto& line : block) {
      if (indentOf(line) == 6) inHeaders = keyAt(line, 6) == "headers";
      if (inHeaders && keyAt(line, 8) == headerName) found = true;
    }
    EXPECT_TRUE(found) << "responses/" << response << " lacks its " << headerName << " header";
  }
}

}  // namespace
}  // namespace mp::test
