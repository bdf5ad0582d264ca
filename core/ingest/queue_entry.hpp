// The format of an entry of the ingest stream (redis::kIngestStream), written by the tracker and
// read by the queue writer: the one place its fields are named, encoded and decoded.
//
// An entry holds the events one send of the tracker queued together: field "b", their queue JSON
// (events::toQueueJson()) one object per line, 1 to kEventsPerEntry of them. Entries written by
// earlier versions hold one event in field "e"; they are read, never written.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "events/event.hpp"
#include "redis/reply.hpp"

namespace mp::ingest {

/// The field of an entry holding its events' queue JSON, one per line.
inline constexpr std::string_view kEventsField = "b";
/// The field of an entry of one event, as earlier versions wrote them (read only).
inline constexpr std::string_view kOneEventField = "e";
/// The most events one entry holds.
inline constexpr std::size_t kEventsPerEntry = 64;

/// Appends to `resp` (redis::appendCommand() form) the XADD to redis::kIngestStream of one entry
/// whose kEventsField is `lines`: queue JSON objects separated by '\n'.
void appendQueueEntry(std::string& resp, std::string_view lines);

/// Packs events into entries of up to kEventsPerEntry each, in the order they are added, and
/// appends one XADD per entry to a RESP buffer (appendQueueEntry()).
class QueueEntryEncoder {
 public:
  explicit QueueEntryEncoder(std::string& resp) : resp_(resp) {}

  /// Adds one event's queue JSON (events::toQueueJson(): one line). Returns the index, counted
  /// from 0 among the XADDs this encoder appends, of the one that holds it.
  std::size_t add(std::string_view queueJson);
  /// Appends the XADD of the entry still open, if any; returns how many XADDs were appended.
  std::size_t finish();

 private:
  std::string& resp_;
  std::string lines_;
  std::size_t entries_ = 0;  ///< XADDs appended
  std::size_t inEntry_ = 0;  ///< events in lines_
};

/// What decodeQueueEntry() made of one stream entry.
struct DecodedEntry {
  enum class Kind {
    kNotAnEntry,   ///< not [id, …] with a string id: ignored
    kGone,         ///< [id] or [id, nil]: deleted (XDEL) while still pending
    kUndecodable,  ///< holds no event: no kEventsField or kOneEventField, or no line of it is one
    kEvents,       ///< holds at least one event
  };
  Kind kind = Kind::kNotAnEntry;
  std::string id;          ///< the entry id (all kinds but kNotAnEntry)
  std::size_t events = 0;  ///< kEvents: how many were appended
  std::size_t failed = 0;  ///< lines that are not an event (kEvents: dropped with the entry)
  /// kUndecodable: why; kEvents with failed > 0: why the first failed line is not an event.
  std::string error;
};

/// Decodes one stream entry as XREADGROUP and XAUTOCLAIM answer it, [id, [field, value, …]],
/// appending its events to `out` in order. The last kEventsField or kOneEventField wins; fields
/// that are not strings are skipped. Never throws for what the entry holds.
DecodedEntry decodeQueueEntry(const redis::Reply& entry, std::vector<events::Event>& out);

}  // namespace mp::ingest
