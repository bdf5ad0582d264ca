// Translating Plausible's and Umami's tracking payloads into /track bodies.
#include "ingest/compat.hpp"

#include <algorithm>

#include "sites/sites.hpp"
#include "util/error.hpp"

namespace mp::ingest {
namespace {

using json = nlohmann::json;

// The first of `names` the object holds with a value other than null.
const json* field(const json& object, std::initializer_list<const char*> names,
                  std::string& found) {
  for (const char* name : names) {
    auto it = object.find(name);
    if (it != object.end() && !it->is_null()) {
      found = name;
      return &*it;
    }
  }
  found = *names.begin();
  return nullptr;
}

std::string requireText(const json* value, const std::string& name) {
  if (!value) throw InvalidInput(name, name + " is required");
  if (!value->is_string()) throw InvalidInput(name, name + " must be a string");
  return value->get<std::string>();
}

// Umami's data may nest objects (kept there as dotted keys); props here are flat.
void flatten(const json& data, const std::string& prefix, json& out, const std::string& field) {
  for (const auto& [key, value] : data.items()) {
    const std::string name = prefix.empty() ? key : prefix + "." + key;
    if (value.is_object()) {
      flatten(value, name, out, field);
    } else if (value.is_array()) {
      out[name] = value.dump();
    } else if (!value.is_null()) {
      out[name] = value;
    }
  }
}

}  // namespace

PlausibleEvent fromPlausible(const std::string& text) {
  json in = json::parse(text, nullptr, false);
  if (in.is_discarded()) throw InvalidInput("body", "the body is not valid JSON (or not UTF-8)");
  if (!in.is_object()) throw InvalidInput("body", "the body must be a JSON object");
  PlausibleEvent out;
  std::string name;

  const std::string domains = requireText(field(in, {"d", "domain"}, name), name);
  std::size_t pos = 0;
  while (pos <= domains.size()) {
    auto comma = domains.find(',', pos);
    if (comma == std::string::npos) comma = domains.size();
    const std::string one = domains.substr(pos, comma - pos);
    pos = comma + 1;
    if (one.find_first_not_of(" \t") == std::string::npos) continue;
    std::string domain;
    try {
      domain = sites::normalizeDomain(one);
    } catch (const InvalidInput&) {
      throw InvalidInput(name, name + " holds \"" + one + "\", which is not a domain");
    }
    if (std::find(out.domains.begin(), out.domains.end(), domain) == out.domains.end()) {
      out.domains.push_back(domain);
    }
  }
  if (out.domains.empty()) throw InvalidInput(name, name + " must name a domain");
  if (out.domains.size() > 10) throw InvalidInput(name, name + " may name at most 10 domains");

  json& body = out.body;
  body = json::object();
  body["eventType"] = requireText(field(in, {"n", "name"}, name), name);
  body["url"] = requireText(field(in, {"u", "url"}, name), name);
  if (const json* r = field(in, {"r", "referrer"}, name)) {
    if (!r->is_string()) throw InvalidInput(name, name + " must be a string or null");
    body["referrer"] = *r;
  }
  if (const json* p = field(in, {"p", "m", "props", "meta"}, name)) {
    json props = *p;
    if (props.is_string()) {
      // Older trackers send the props as JSON text.
      props = json::parse(p->get<std::string>(), nullptr, false);
      if (props.is_discarded()) throw InvalidInput(name, name + " is not valid JSON text");
    }
    if (!props.is_object()) throw InvalidInput(name, name + " must be an object");
    // Plausible drops empty and null values rather than refusing the event.
    json kept = json::object();
    for (const auto& [key, value] : props.items()) {
      if (value.is_null() || (value.is_string() && value.get_ref<const std::string&>().empty())) {
        continue;
      }
      if (value.is_object() || value.is_array()) {
        throw InvalidInput(name, name + "." + key + " must be a string, number or boolean");
      }
      kept[key] = value;
    }
    if (!kept.empty()) body["props"] = std::move(kept);
  }
  if (const json* i = field(in, {"i", "interactive"}, name)) {
    if (!i->is_boolean()) throw InvalidInput(name, name + " must be true or false");
    body["interactive"] = *i;
  }
  if (const json* h = field(in, {"h", "hashMode"}, name)) {
    if (!h->is_boolean() && !h->is_number_integer()) {
      throw InvalidInput(name, name + " must be 0, 1, true or false");
    }
    body["hashMode"] = h->is_boolean() ? h->get<bool>() : h->get<std::int64_t>() != 0;
  }
  return out;
}

UmamiEvent fromUmami(const json& item, const std::string& where) {
  if (!item.is_object()) {
    throw InvalidInput(where.empty() ? "body" : where, "each event must be a JSON object");
  }
  UmamiEvent out;
  auto typeIt = item.find("type");
  out.type = "event";
  if (typeIt != item.end() && !typeIt->is_null()) {
    if (!typeIt->is_string()) throw InvalidInput(where + "type", where + "type must be a string");
    out.type = typeIt->get<std::string>();
  }
  if (out.type != "event" && out.type != "identify" && out.type != "performance" &&
      out.type != "engagement") {
    throw InvalidInput(where + "type", where +
                                           "type must be event, identify, performance or "
                                           "engagement");
  }
  auto payloadIt = item.find("payload");
  if (payloadIt == item.end() || !payloadIt->is_object()) {
    throw InvalidInput(where + "payload", where + "payload must be an object");
  }
  const json& p = *payloadIt;
  const std::string at = where + "payload.";
  std::string name;
  const std::string website = requireText(field(p, {"website"}, name), at + "website");
  if (out.type != "event") return out;  // nothing of these is stored

  json& body = out.body;
  body = json::object();
  body["websiteId"] = website;
  std::string url = requireText(field(p, {"url"}, name), at + "url");
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    const json* hostname = field(p, {"hostname"}, name);
    const std::string host = requireText(hostname, at + "hostname");
    if (url.empty() || url.front() != '/') url.insert(0, "/");
    url = "https://" + host + url;
  }
  body["url"] = url;
  if (const json* r = field(p, {"referrer"}, name)) {
    if (!r->is_string()) throw InvalidInput(at + "referrer", at + "referrer must be a string");
    // A path is a referrer within the site: no source.
    if (!r->get_ref<const std::string&>().empty() && r->get_ref<const std::string&>()[0] != '/') {
      body["referrer"] = *r;
    }
  }
  if (const json* n = field(p, {"name"}, name)) {
    if (!n->is_string()) throw InvalidInput(at + "name", at + "name must be a string");
    if (!n->get_ref<const std::string&>().empty()) body["eventType"] = *n;
  }
  if (const json* data = field(p, {"data"}, name)) {
    if (!data->is_object()) throw InvalidInput(at + "data", at + "data must be an object");
    json props = json::object();
    flatten(*data, "", props, at + "data");
    if (!props.empty()) body["props"] = std::move(props);
  }
  if (const json* ts = field(p, {"timestamp"}, name)) {
    if (!ts->is_number_integer()) {
      throw InvalidInput(at + "timestamp", at + "timestamp must be Unix seconds");
    }
    body["timestamp"] = ts->get<std::int64_t>() * 1000;
  }
  return out;
}

std::string trackBody(json body, const std::string& websiteId) {
  body["websiteId"] = websiteId;
  return body.dump();
}

}  // namespace mp::ingest
