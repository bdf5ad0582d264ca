// Encoding and decoding of ingest stream entries; the format is described in queue_entry.hpp.
#include "ingest/queue_entry.hpp"

#include <exception>

#include "redis/client.hpp"
#include "redis/keys.hpp"

namespace mp::ingest {

void appendQueueEntry(std::string& resp, std::string_view lines) {
  redis::appendCommand(resp, {"XADD", redis::kIngestStream, "*", kEventsField, lines});
}

std::size_t QueueEntryEncoder::add(std::string_view queueJson) {
  if (inEntry_ > 0) lines_.push_back('\n');
  lines_.append(queueJson);
  const std::size_t entry = entries_;
  if (++inEntry_ == kEventsPerEntry) finish();
  return entry;
}

std::size_t QueueEntryEncoder::finish() {
  if (inEntry_ > 0) {
    appendQueueEntry(resp_, lines_);
    ++entries_;
    lines_.clear();
    inEntry_ = 0;
  }
  return entries_;
}

DecodedEntry decodeQueueEntry(const redis::Reply& entry, std::vector<events::Event>& out) {
  DecodedEntry decoded;
  if (!entry.isArray() || entry.elements().empty() || !entry.elements()[0].isString()) {
    return decoded;
  }
  decoded.id = entry.elements()[0].str();
  if (entry.elements().size() < 2 || entry.elements()[1].isNil()) {
    decoded.kind = DecodedEntry::Kind::kGone;
    return decoded;
  }
  const redis::Reply& fields = entry.elements()[1];
  const std::string* payload = nullptr;
  bool lines = false;
  if (fields.isArray()) {
    const auto& f = fields.elements();
    for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
      if (!f[i].isString() || !f[i + 1].isString()) continue;
      if (f[i].str() == kEventsField || f[i].str() == kOneEventField) {
        payload = &f[i + 1].str();
        lines = f[i].str() == kEventsField;
      }
    }
  }
  if (payload == nullptr) {
    decoded.kind = DecodedEntry::Kind::kUndecodable;
    decoded.error = "no field \"";
    decoded.error.append(kEventsField).append("\" or \"").append(kOneEventField).append("\"");
    return decoded;
  }
  std::string_view rest(*payload);
  for (;;) {
    std::string_view line = rest;
    if (lines) {
      const auto nl = rest.find('\n');
      line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    } else {
      rest = {};
    }
    try {
      out.push_back(events::fromQueueJson(line));
      ++decoded.events;
    } catch (const std::exception& e) {
      if (decoded.failed++ == 0) decoded.error = e.what();
    }
    if (rest.empty()) break;
  }
  decoded.kind =
      decoded.events == 0 ? DecodedEntry::Kind::kUndecodable : DecodedEntry::Kind::kEvents;
  return decoded;
}

}  // namespace mp::ingest
