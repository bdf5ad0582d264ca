// The ingest stream entry: the XADD the tracker sends, read back as the queue writer reads it, and
// what the writer makes of entries that are not the tracker's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "events/event.hpp"
#include "ingest/queue_entry.hpp"
#include "redis/reply.hpp"

namespace mp::ingest {
namespace {

using redis::Reply;
using Kind = DecodedEntry::Kind;

events::Event minimalEvent(int n = 0) {
  events::Event e;
  e.id = "0190d7a0-1234-7abc-8def-" + std::to_string(100000000000 + n);
  e.websiteId = "0190d7a0-0000-7000-8000-000000000001";
  e.tsMillis = 1795774500123 + n;
  return e;
}

events::Event fullEvent(int n = 0) {
  events::Event e = minimalEvent(n);
  e.eventType = "pageview";
  e.page = "/pricing";
  e.url = "https://example.com/pricing?n=" + std::to_string(n);
  e.hostname = "example.com";
  e.referrer = "https://news.example.org/";
  e.referrerHost = "news.example.org";
  e.sessionId = "s-" + std::to_string(n);
  e.visitorId = -4242424242424242LL + n;
  e.userAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
  e.browser = "Firefox";
  e.os = "Linux";
  e.device = "desktop";
  e.country = "DE";
  e.ip = "81.2.69.0";
  e.props = R"({"plan":"pro","n":3})";
  return e;
}

// Characters that matter to one of the layers: JSON escapes, the newline between an entry's
// events, RESP's CRLF and length prefixes, multi-byte UTF-8.
events::Event oddEvent() {
  events::Event e = fullEvent();
  e.eventType = "signup \"pro\" \\ \n";
  e.page = "/caf\xC3\xA9/\xF0\x9F\x98\x80/\xE2\x80\xA8";
  e.url = "https://example.com/caf\xC3\xA9/\xF0\x9F\x98\x80?q=a\\b&r=\r\n$5\r\n";
  e.referrer = "https://news.example.org/\x01tab\there\x1f\x7f";
  e.sessionId = "}\n{\"i\":\"x\"}";
  e.userAgent = "Mozilla/5.0\nline two\r\n\nline four";
  e.country = "\n";
  e.props = R"({"a":"x\ny","b":"\\n","c":"\u0001"})";
  return e;
}

// A code point of `bytes` UTF-8 bytes, `n` times.
std::string codePoints(std::size_t n, const char* bytes) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += bytes;
  return out;
}

// As long as the tracker lets each field be (lengths count code points), and longer where it sets
// no limit.
events::Event largestEvent(int n = 0) {
  events::Event e = fullEvent(n);
  e.eventType = codePoints(64, "\xF0\x9F\x98\x80");
  e.url = "https://example.com/" + codePoints(2048 - 20, "\xF0\x9F\x98\x80");
  e.page = "/" + codePoints(2047, "\xC3\xA9");
  e.referrer = "https://example.org/" + codePoints(2048 - 20, "\xE2\x82\xAC");
  e.sessionId = codePoints(128, "\xF0\x9F\x98\x80");
  e.userAgent = codePoints(8192, "\"");
  e.visitorId = n % 2 == 0 ? std::numeric_limits<std::int64_t>::min()
                           : std::numeric_limits<std::int64_t>::max();
  e.tsMillis = 253402300799999;  // 9999-12-31T23:59:59.999Z
  std::string props = "{";
  for (int k = 0; k < 30; ++k) {
    if (k > 0) props += ",";
    props += "\"key" + std::to_string(k) + "\":\"" + codePoints(200, "\\n") + "\"";
  }
  e.props = props + "}";
  return e;
}

Reply entryReply(const std::string& id, const std::vector<std::string>& fieldsAndValues) {
  std::vector<Reply> fields;
  fields.reserve(fieldsAndValues.size());
  for (const std::string& s : fieldsAndValues) fields.push_back(Reply::string(s));
  return Reply::array({Reply::string(id), Reply::array(std::move(fields))});
}

// The commands of `resp` as Redis would take them, each checked to be an XADD of one entry to
// the ingest stream, turned into the stream entries XREADGROUP would then answer.
std::vector<Reply> entriesOf(const std::string& resp) {
  std::vector<Reply> entries;
  for (const Reply& command : redis::decodeResp(resp)) {
    const auto& args = command.elements();
    EXPECT_EQ(args.size(), 5u);
    if (args.size() != 5) continue;
    EXPECT_EQ(args[0].str(), "XADD");
    EXPECT_EQ(args[1].str(), "mp:ingest");
    EXPECT_EQ(args[2].str(), "*");
    const std::string id = "1795774500123-" + std::to_string(entries.size());
    entries.push_back(Reply::array({Reply::string(id), Reply::array({args[3], args[4]})}));
  }
  return entries;
}

// Encodes `sent` as the tracker does, reads it back as the writer does.
std::vector<events::Event> roundTrip(const std::vector<events::Event>& sent) {
  std::string resp;
  QueueEntryEncoder encoder(resp);
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(encoder.add(events::toQueueJson(sent[i])), i / kEventsPerEntry);
  }
  const std::size_t xadds = encoder.finish();
  EXPECT_EQ(xadds, (sent.size() + kEventsPerEntry - 1) / kEventsPerEntry);
  const std::vector<Reply> entries = entriesOf(resp);
  EXPECT_EQ(entries.size(), xadds);
  std::vector<events::Event> back;
  for (const Reply& entry : entries) {
    const DecodedEntry decoded = decodeQueueEntry(entry, back);
    EXPECT_EQ(decoded.kind, Kind::kEvents);
    EXPECT_EQ(decoded.id, entry.elements()[0].str());
    EXPECT_EQ(decoded.failed, 0u) << decoded.error;
    EXPECT_LE(decoded.events, kEventsPerEntry);
  }
  return back;
}

std::string queueJsonError(std::string_view text) {
  try {
    events::fromQueueJson(text);
  } catch (const std::exception& e) {
    return e.what();
  }
  ADD_FAILURE() << "fromQueueJson accepted " << text;
  return {};
}

TEST(QueueEntry, IsAnXaddOfFieldBWithTheEventsOnePerLine) {
  const std::string one = events::toQueueJson(fullEvent(1));
  const std::string two = events::toQueueJson(fullEvent(2));
  std::string resp;
  QueueEntryEncoder encoder(resp);
  EXPECT_EQ(encoder.add(one), 0u);
  EXPECT_EQ(encoder.add(two), 0u);
  EXPECT_EQ(encoder.finish(), 1u);
  const std::string lines = one + "\n" + two;
  EXPECT_EQ(resp, "*5\r\n$4\r\nXADD\r\n$9\r\nmp:ingest\r\n$1\r\n*\r\n$1\r\nb\r\n$" +
                      std::to_string(lines.size()) + "\r\n" + lines + "\r\n");

  std::string single;
  appendQueueEntry(single, one);
  EXPECT_EQ(single, "*5\r\n$4\r\nXADD\r\n$9\r\nmp:ingest\r\n$1\r\n*\r\n$1\r\nb\r\n$" +
                        std::to_string(one.size()) + "\r\n" + one + "\r\n");
  EXPECT_EQ(kEventsField, "b");
  EXPECT_EQ(kOneEventField, "e");
  EXPECT_EQ(kEventsPerEntry, 64u);
}

TEST(QueueEntry, NothingAddedAppendsNothing) {
  std::string resp = "before";
  QueueEntryEncoder encoder(resp);
  EXPECT_EQ(encoder.finish(), 0u);
  EXPECT_EQ(encoder.finish(), 0u);
  EXPECT_EQ(resp, "before");
}

TEST(QueueEntry, AppendsAfterWhatTheBufferHolds) {
  std::string resp = "*1\r\n$4\r\nPING\r\n";
  QueueEntryEncoder encoder(resp);
  encoder.add(events::toQueueJson(fullEvent()));
  EXPECT_EQ(encoder.finish(), 1u);
  EXPECT_EQ(encoder.finish(), 1u) << "a second finish appends nothing more";
  const auto commands = redis::decodeResp(resp);
  ASSERT_EQ(commands.size(), 2u);
  EXPECT_EQ(commands[0].elements()[0].str(), "PING");
  EXPECT_EQ(commands[1].elements()[0].str(), "XADD");
}

TEST(QueueEntry, RoundTripsOddCharacters) {
  const std::vector<events::Event> sent = {oddEvent(), fullEvent(1), oddEvent()};
  const std::string json = events::toQueueJson(sent[0]);
  EXPECT_EQ(json.find('\n'), std::string::npos) << "an event must stay on its line";
  EXPECT_EQ(roundTrip(sent), sent);
}

TEST(QueueEntry, RoundTripsEmptyOptionalFields) {
  events::Event noExtras = fullEvent(2);
  noExtras.referrer.clear();
  noExtras.referrerHost.clear();
  noExtras.country.clear();
  noExtras.ip.clear();
  noExtras.props.clear();
  noExtras.userAgent.clear();
  const std::vector<events::Event> sent = {minimalEvent(1), noExtras, minimalEvent(3)};
  EXPECT_EQ(roundTrip(sent), sent);
}

TEST(QueueEntry, RoundTripsTheLargestEventsInFullEntries) {
  std::vector<events::Event> sent;
  sent.reserve(kEventsPerEntry);
  for (int n = 0; n < static_cast<int>(kEventsPerEntry); ++n) sent.push_back(largestEvent(n));
  EXPECT_EQ(roundTrip(sent), sent);
}

TEST(QueueEntry, HoldsAtMostEventsPerEntryEach) {
  for (const std::size_t count :
       {std::size_t{1}, kEventsPerEntry - 1, kEventsPerEntry, kEventsPerEntry + 1,
        2 * kEventsPerEntry, 2 * kEventsPerEntry + 1}) {
    std::vector<events::Event> sent;
    for (std::size_t n = 0; n < count; ++n) sent.push_back(fullEvent(static_cast<int>(n)));
    std::string resp;
    QueueEntryEncoder encoder(resp);
    for (const auto& e : sent) encoder.add(events::toQueueJson(e));
    encoder.finish();
    std::vector<events::Event> back;
    std::size_t seen = 0;
    for (const Reply& entry : entriesOf(resp)) {
      const DecodedEntry decoded = decodeQueueEntry(entry, back);
      const std::size_t expected = std::min(kEventsPerEntry, count - seen);
      EXPECT_EQ(decoded.events, expected) << count;
      seen += decoded.events;
    }
    EXPECT_EQ(back, sent) << count;
  }
}

TEST(QueueEntry, DecodingAppendsToWhatIsThere) {
  std::vector<events::Event> out = {minimalEvent(9)};
  const DecodedEntry decoded =
      decodeQueueEntry(entryReply("1-0", {"b", events::toQueueJson(minimalEvent(1)) + "\n" +
                                                   events::toQueueJson(minimalEvent(2))}),
                       out);
  EXPECT_EQ(decoded.kind, Kind::kEvents);
  EXPECT_EQ(decoded.events, 2u);
  EXPECT_EQ(out, (std::vector<events::Event>{minimalEvent(9), minimalEvent(1), minimalEvent(2)}));
}

TEST(QueueEntry, ReadsEntriesOfOneEventInFieldE) {
  std::vector<events::Event> out;
  const DecodedEntry decoded =
      decodeQueueEntry(entryReply("1-0", {"e", events::toQueueJson(oddEvent())}), out);
  EXPECT_EQ(decoded.kind, Kind::kEvents);
  EXPECT_EQ(decoded.id, "1-0");
  EXPECT_EQ(decoded.events, 1u);
  EXPECT_EQ(decoded.failed, 0u);
  EXPECT_EQ(out, std::vector<events::Event>{oddEvent()});

  // Field "e" holds one object: it is not split into lines.
  const std::string two =
      events::toQueueJson(minimalEvent(1)) + "\n" + events::toQueueJson(minimalEvent(2));
  out.clear();
  const DecodedEntry lines = decodeQueueEntry(entryReply("2-0", {"e", two}), out);
  EXPECT_EQ(lines.kind, Kind::kUndecodable);
  EXPECT_EQ(lines.error, queueJsonError(two));
  EXPECT_TRUE(out.empty());
}

TEST(QueueEntry, WhatIsNotAnEntryIsIgnored) {
  for (const Reply& notEntry :
       {Reply::nil(), Reply::integer(1), Reply::string("1-0"), Reply::error("ERR"),
        Reply::array({}), Reply::array({Reply::integer(1), Reply::array({})}),
        Reply::array({Reply::nil(), Reply::array({Reply::string("b"), Reply::string("{}")})})}) {
    std::vector<events::Event> out;
    const DecodedEntry decoded = decodeQueueEntry(notEntry, out);
    EXPECT_EQ(decoded.kind, Kind::kNotAnEntry) << notEntry.debugString();
    EXPECT_EQ(decoded.id, "");
    EXPECT_TRUE(out.empty());
  }
}

TEST(QueueEntry, AnEntryDeletedWhilePendingIsGone) {
  for (const Reply& gone :
       {Reply::array({Reply::string("7-1")}), Reply::array({Reply::string("7-1"), Reply::nil()})}) {
    std::vector<events::Event> out;
    const DecodedEntry decoded = decodeQueueEntry(gone, out);
    EXPECT_EQ(decoded.kind, Kind::kGone) << gone.debugString();
    EXPECT_EQ(decoded.id, "7-1");
    EXPECT_TRUE(out.empty());
  }
}

TEST(QueueEntry, AnEntryWithoutFieldBOrEIsUndecodable) {
  const std::string json = events::toQueueJson(minimalEvent());
  for (const Reply& entry :
       {entryReply("3-0", {}), entryReply("3-0", {"x", "no e field"}), entryReply("3-0", {"b"}),
        entryReply("3-0", {"B", json, "E", json}),
        Reply::array({Reply::string("3-0"), Reply::string("b")}),
        Reply::array({Reply::string("3-0"), Reply::integer(0)}),
        Reply::array({Reply::string("3-0"), Reply::array({Reply::string("b"), Reply::nil()})}),
        Reply::array(
            {Reply::string("3-0"), Reply::array({Reply::integer(1), Reply::string(json)})})}) {
    std::vector<events::Event> out;
    const DecodedEntry decoded = decodeQueueEntry(entry, out);
    EXPECT_EQ(decoded.kind, Kind::kUndecodable) << entry.debugString();
    EXPECT_EQ(decoded.id, "3-0");
    EXPECT_EQ(decoded.error, "no field \"b\" or \"e\"");
    EXPECT_TRUE(out.empty());
  }
}

TEST(QueueEntry, AnEntryWithNoEventIsUndecodableWithItsFirstError) {
  for (const auto& [field, value, firstLine, lines] :
       std::vector<std::tuple<std::string, std::string, std::string, std::size_t>>{
           {"e", "not json", "not json", 1},
           {"e", R"({"i":"lacks website and time"})", R"({"i":"lacks website and time"})", 1},
           {"e", "", "", 1},
           {"b", "", "", 1},
           {"b", "\n", "", 1},
           {"b", "[]\nnot json\n{}", "[]", 3},
           {"b", "\n\n{}", "", 3}}) {
    std::vector<events::Event> out;
    const DecodedEntry decoded = decodeQueueEntry(entryReply("4-0", {field, value}), out);
    EXPECT_EQ(decoded.kind, Kind::kUndecodable) << field << " " << value;
    EXPECT_EQ(decoded.id, "4-0");
    EXPECT_EQ(decoded.error, queueJsonError(firstLine)) << field << " " << value;
    EXPECT_EQ(decoded.failed, lines) << field << " " << value;
    EXPECT_TRUE(out.empty());
  }
}

TEST(QueueEntry, LinesThatAreNotEventsAreCountedAndTheOthersKept) {
  const std::string a = events::toQueueJson(minimalEvent(1));
  const std::string b = events::toQueueJson(minimalEvent(2));
  std::vector<events::Event> out;
  const DecodedEntry mixed =
      decodeQueueEntry(entryReply("5-0", {"b", a + "\nnot json\n" + b + "\n\n[]"}), out);
  EXPECT_EQ(mixed.kind, Kind::kEvents);
  EXPECT_EQ(mixed.id, "5-0");
  EXPECT_EQ(mixed.events, 2u);
  EXPECT_EQ(mixed.failed, 3u);
  EXPECT_EQ(mixed.error, queueJsonError("not json"));
  EXPECT_EQ(out, (std::vector<events::Event>{minimalEvent(1), minimalEvent(2)}));

  // One trailing newline ends the last line; a leading one is an empty line.
  out.clear();
  const DecodedEntry trailing = decodeQueueEntry(entryReply("6-0", {"b", a + "\n"}), out);
  EXPECT_EQ(trailing.kind, Kind::kEvents);
  EXPECT_EQ(trailing.failed, 0u);
  EXPECT_EQ(trailing.error, "");
  const DecodedEntry leading = decodeQueueEntry(entryReply("6-1", {"b", "\n" + b}), out);
  EXPECT_EQ(leading.kind, Kind::kEvents);
  EXPECT_EQ(leading.failed, 1u);
  EXPECT_EQ(leading.error, queueJsonError(""));
  EXPECT_EQ(out, (std::vector<events::Event>{minimalEvent(1), minimalEvent(2)}));
}

TEST(QueueEntry, TheLastFieldBOrEWinsAndOtherFieldsAreSkipped) {
  const std::string a = events::toQueueJson(minimalEvent(1));
  const std::string b = events::toQueueJson(minimalEvent(2));
  std::vector<events::Event> out;
  EXPECT_EQ(decodeQueueEntry(entryReply("8-0", {"e", a, "x", "y", "b", b + "\n" + a}), out).events,
            2u);
  EXPECT_EQ(out, (std::vector<events::Event>{minimalEvent(2), minimalEvent(1)}));
  out.clear();
  // Read as field "e": one object, so the two lines make no event.
  EXPECT_EQ(decodeQueueEntry(entryReply("8-1", {"b", a, "e", a + "\n" + b}), out).kind,
            Kind::kUndecodable);
  EXPECT_TRUE(out.empty());
  // A pair whose value is not a string is skipped, the field before it is used.
  const Reply skipped =
      Reply::array({Reply::string("8-2"), Reply::array({Reply::string("b"), Reply::string(a),
                                                        Reply::string("e"), Reply::integer(5)})});
  EXPECT_EQ(decodeQueueEntry(skipped, out).kind, Kind::kEvents);
  EXPECT_EQ(out, std::vector<events::Event>{minimalEvent(1)});
  out.clear();
  // An odd field at the end has no value and is skipped.
  EXPECT_EQ(decodeQueueEntry(entryReply("8-3", {"b", a, "e"}), out).events, 1u);
}

}  // namespace
}  // namespace mp::ingest
