// Unit tests of the WebSocket frame parser: RFC 6455 §5.7's examples, every refusal with its
// close code, the message limit at and past its edge, and any split of the input.
#include <gtest/gtest.h>

#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "util/utf8.hpp"
#include "ws/frame.hpp"
#include "ws/frame_parser.hpp"
#include "ws/utf8_stream.hpp"

namespace mp::ws {
namespace {

using Type = Event::Type;

std::string bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s.push_back(static_cast<char>(v));
  return s;
}

constexpr MaskKey kMask{0x37, 0xfa, 0x21, 0x3d};

// A client frame as a browser would send it.
std::string masked(Opcode op, std::string_view payload, bool fin = true) {
  return encodeClientFrame(op, payload, kMask, fin);
}

// A masked frame header with any first byte and length, for frames the writer refuses to make.
std::string rawMaskedHeader(int firstByte, std::uint64_t length) {
  std::string h(1, static_cast<char>(firstByte));
  if (length <= 125) {
    h.push_back(static_cast<char>(0x80 | length));
  } else if (length <= 0xFFFF) {
    h += bytes({0xFE, static_cast<int>(length >> 8), static_cast<int>(length & 0xFF)});
  } else {
    h.push_back(static_cast<char>(0xFF));
    for (int shift = 56; shift >= 0; shift -= 8) h.push_back(static_cast<char>(length >> shift));
  }
  return h + bytes({kMask[0], kMask[1], kMask[2], kMask[3]});
}

std::vector<Event> parseAll(std::string_view data, ParserOptions options = {}) {
  FrameParser parser(options);
  return parser.feed(data);
}

std::vector<Event> parseByteByByte(std::string_view data, ParserOptions options = {}) {
  FrameParser parser(options);
  std::vector<Event> events;
  for (char c : data) {
    for (auto& e : parser.feed(std::string_view(&c, 1))) events.push_back(std::move(e));
    EXPECT_LE(parser.bufferedBytes(), parser.maxBufferedBytes());
  }
  return events;
}

// The single event `data` produces, checked to be the same whichever way it is fed.
Event only(std::string_view data, ParserOptions options = {}) {
  const auto events = parseAll(data, options);
  EXPECT_EQ(parseByteByByte(data, options), events);
  EXPECT_EQ(events.size(), 1u);
  return events.empty() ? Event{} : events.front();
}

void expectError(std::string_view data, std::uint16_t code, ParserOptions options = {}) {
  const Event e = only(data, options);
  EXPECT_EQ(e.type, Type::Error) << e.payload;
  EXPECT_EQ(e.code, code) << e.payload;
  EXPECT_FALSE(e.payload.empty());
}

TEST(WsFrameParser, RfcSingleFrameUnmaskedTextOnTheClient) {
  const Event e = only(bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}), {Role::Client});
  EXPECT_EQ(e, (Event{Type::Text, "Hello", 0}));
}

TEST(WsFrameParser, RfcSingleFrameMaskedTextOnTheServer) {
  const Event e = only(bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
  EXPECT_EQ(e, (Event{Type::Text, "Hello", 0}));
}

TEST(WsFrameParser, RfcFragmentedText) {
  const std::string unmasked =
      bytes({0x01, 0x03, 0x48, 0x65, 0x6c}) + bytes({0x80, 0x02, 0x6c, 0x6f});
  EXPECT_EQ(only(unmasked, {Role::Client}), (Event{Type::Text, "Hello", 0}));
  const std::string clientSide =
      masked(Opcode::Text, "Hel", false) + masked(Opcode::Continuation, "lo");
  EXPECT_EQ(only(clientSide), (Event{Type::Text, "Hello", 0}));
}

TEST(WsFrameParser, RfcPingAndPong) {
  EXPECT_EQ(only(bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}), {Role::Client}),
            (Event{Type::Ping, "Hello", 0}));
  EXPECT_EQ(only(bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58})),
            (Event{Type::Pong, "Hello", 0}));
}

TEST(WsFrameParser, Rfc256ByteAnd64KiBBinary) {
  std::string payload(256, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i);
  EXPECT_EQ(only(bytes({0x82, 0x7E, 0x01, 0x00}) + payload, {Role::Client}),
            (Event{Type::Binary, payload, 0}));

  std::string big(65536, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  EXPECT_EQ(only(bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}) + big, {Role::Client}),
            (Event{Type::Binary, big, 0}));
  EXPECT_EQ(only(masked(Opcode::Binary, big)), (Event{Type::Binary, big, 0}));
}

TEST(WsFrameParser, EmptyMessagesAndEmptyFragments) {
  EXPECT_EQ(only(masked(Opcode::Text, "")), (Event{Type::Text, "", 0}));
  EXPECT_EQ(only(masked(Opcode::Binary, "", false) + masked(Opcode::Continuation, "", false) +
                 masked(Opcode::Continuation, "")),
            (Event{Type::Binary, "", 0}));
}

TEST(WsFrameParser, ControlFramesInterleaveWithAFragmentedMessage) {
  const std::string data = masked(Opcode::Text, "Hel", false) + masked(Opcode::Ping, "p1") +
                           masked(Opcode::Continuation, "l", false) + masked(Opcode::Pong, "") +
                           masked(Opcode::Continuation, "o");
  const std::vector<Event> expected = {
      {Type::Ping, "p1", 0}, {Type::Pong, "", 0}, {Type::Text, "Hello", 0}};
  EXPECT_EQ(parseAll(data), expected);
  EXPECT_EQ(parseByteByByte(data), expected);
}

TEST(WsFrameParser, UnmaskedClientFrameIs1002) {
  expectError(encodeFrame(Opcode::Text, "Hello"), kCloseProtocolError);
  expectError(encodeFrame(Opcode::Ping, ""), kCloseProtocolError);
}

TEST(WsFrameParser, MaskedServerFrameIs1002OnTheClient) {
  expectError(masked(Opcode::Text, "Hello"), kCloseProtocolError, {Role::Client});
}

TEST(WsFrameParser, ReservedBitsAre1002) {
  for (int rsv : {0x40, 0x20, 0x10}) {
    expectError(rawMaskedHeader(0x81 | rsv, 0), kCloseProtocolError);
  }
}

TEST(WsFrameParser, UnknownOpcodesAre1002) {
  for (int op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    expectError(rawMaskedHeader(0x80 | op, 0), kCloseProtocolError);
  }
}

TEST(WsFrameParser, FragmentedControlFrameIs1002) {
  for (int op : {0x8, 0x9, 0xA}) expectError(rawMaskedHeader(op, 0), kCloseProtocolError);
}

TEST(WsFrameParser, LongControlFrameIs1002BeforeItsPayload) {
  for (int op : {0x88, 0x89, 0x8A}) {
    expectError(rawMaskedHeader(op, 126), kCloseProtocolError);
    // Judged from the first two bytes: the rest of the header need not arrive.
    expectError(rawMaskedHeader(op, 126).substr(0, 2), kCloseProtocolError);
  }
}

TEST(WsFrameParser, ContinuationWithoutAMessageIs1002) {
  expectError(masked(Opcode::Continuation, "lo"), kCloseProtocolError);
  // Also after a finished message.
  const auto events =
      parseAll(masked(Opcode::Text, "Hello") + masked(Opcode::Continuation, "again"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].type, Type::Error);
  EXPECT_EQ(events[1].code, kCloseProtocolError);
}

TEST(WsFrameParser, NewMessageInsideAFragmentedOneIs1002) {
  for (Opcode op : {Opcode::Text, Opcode::Binary}) {
    expectError(masked(Opcode::Text, "Hel", false) + masked(op, "lo"), kCloseProtocolError);
  }
}

TEST(WsFrameParser, NonMinimalAndTopBitLengthsAre1002) {
  expectError(rawMaskedHeader(0x82, 0).substr(0, 1) + bytes({0xFE, 0x00, 0x7D}) +
                  bytes({kMask[0], kMask[1], kMask[2], kMask[3]}),
              kCloseProtocolError);
  const std::string mask = bytes({kMask[0], kMask[1], kMask[2], kMask[3]});
  expectError(bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}) + mask, kCloseProtocolError);
  expectError(bytes({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0}) + mask, kCloseProtocolError);
}

TEST(WsFrameParser, MessageAtTheLimitPassesAndOneByteMoreIs1009) {
  const std::string atLimit(kDefaultMaxMessageBytes, 'a');
  EXPECT_EQ(only(masked(Opcode::Text, atLimit)), (Event{Type::Text, atLimit, 0}));
  expectError(masked(Opcode::Text, atLimit + "a"), kCloseMessageTooBig);
  expectError(masked(Opcode::Binary, atLimit + "a"), kCloseMessageTooBig);
}

TEST(WsFrameParser, LimitCountsTheWholeReassembledMessage) {
  const std::string half(kDefaultMaxMessageBytes / 2, 'h');
  EXPECT_EQ(only(masked(Opcode::Binary, half, false) + masked(Opcode::Continuation, half)),
            (Event{Type::Binary, half + half, 0}));
  expectError(masked(Opcode::Binary, half, false) + masked(Opcode::Continuation, half + "x"),
              kCloseMessageTooBig);
}

TEST(WsFrameParser, ConfigurableLimit) {
  const ParserOptions small{Role::Server, 10};
  EXPECT_EQ(only(masked(Opcode::Text, "0123456789"), small), (Event{Type::Text, "0123456789", 0}));
  expectError(masked(Opcode::Text, "0123456789!"), kCloseMessageTooBig, small);
  expectError(masked(Opcode::Text, "01234", false) + masked(Opcode::Continuation, "567890"),
              kCloseMessageTooBig, small);
  // Control frames have their own limit, not the message's.
  EXPECT_EQ(only(masked(Opcode::Ping, std::string(125, 'p')), small),
            (Event{Type::Ping, std::string(125, 'p'), 0}));
}

TEST(WsFrameParser, HostileDeclaredLengthIsRefusedWithoutBuffering) {
  FrameParser parser;
  // 2^63 - 1 declared, then a trickle of payload that must never be stored.
  const auto events = parser.feed(rawMaskedHeader(0x82, 0x7FFFFFFFFFFFFFFFULL) + "xxxx");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, Type::Error);
  EXPECT_EQ(events[0].code, kCloseMessageTooBig);
  EXPECT_EQ(parser.bufferedBytes(), 0u);
  EXPECT_TRUE(parser.feed(std::string(1000, 'x')).empty());
  EXPECT_EQ(parser.bufferedBytes(), 0u);
}

TEST(WsFrameParser, BufferGrowsWithArrivalsNotWithTheDeclaredLength) {
  FrameParser parser;
  const std::string frame = masked(Opcode::Binary, std::string(kDefaultMaxMessageBytes, 'z'));
  EXPECT_TRUE(parser.feed(frame.substr(0, 14 + 100)).empty());
  EXPECT_LT(parser.bufferedBytes(), 1024u);
  EXPECT_TRUE(parser.feed(frame.substr(114, 40000)).empty());
  EXPECT_LE(parser.bufferedBytes(), parser.maxBufferedBytes());
  EXPECT_EQ(parser.feed(frame.substr(40114)).size(), 1u);
}

TEST(WsFrameParser, InvalidUtf8TextIs1007) {
  expectError(masked(Opcode::Text, "caf\xc3"), kCloseInvalidPayload);           // cut short
  expectError(masked(Opcode::Text, "\xc0\xaf"), kCloseInvalidPayload);          // overlong
  expectError(masked(Opcode::Text, "\xed\xa0\x80"), kCloseInvalidPayload);      // surrogate
  expectError(masked(Opcode::Text, "\xf4\x90\x80\x80"), kCloseInvalidPayload);  // past U+10FFFF
  expectError(masked(Opcode::Text, "ok", false) + masked(Opcode::Continuation, "\xff"),
              kCloseInvalidPayload);
  expectError(masked(Opcode::Text, "\xe2\x82", false) + masked(Opcode::Continuation, ""),
              kCloseInvalidPayload);
  // Binary messages are bytes: anything goes.
  EXPECT_EQ(only(masked(Opcode::Binary, "\xff\xc0")).type, Type::Binary);
}

TEST(WsFrameParser, Utf8SplitAcrossFragmentsIsFine) {
  const std::string euro = "\xe2\x82\xac";
  EXPECT_EQ(only(masked(Opcode::Text, euro.substr(0, 1), false) +
                 masked(Opcode::Continuation, euro.substr(1, 1), false) +
                 masked(Opcode::Continuation, euro.substr(2) + " \xf0\x9f\x98\x80")),
            (Event{Type::Text, euro + " \xf0\x9f\x98\x80", 0}));
}

TEST(WsFrameParser, InvalidUtf8IsCaughtBeforeTheFrameEnds) {
  FrameParser parser;
  const std::string frame = masked(Opcode::Text, "ok\xff" + std::string(1000, 'a'));
  const auto events = parser.feed(frame.substr(0, 6 + 4 + 3));  // header and "ok\xff"
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].code, kCloseInvalidPayload);
  EXPECT_TRUE(parser.finished());
}

TEST(WsFrameParser, ClosePayloads) {
  EXPECT_EQ(only(masked(Opcode::Close, "")), (Event{Type::Close, "", kCloseNoStatus}));
  EXPECT_EQ(only(masked(Opcode::Close, closePayload(1000, "bye"))),
            (Event{Type::Close, "bye", 1000}));
  for (int c : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999}) {
    const auto code = static_cast<std::uint16_t>(c);
    EXPECT_EQ(only(masked(Opcode::Close, closePayload(code))), (Event{Type::Close, "", code}));
  }
  expectError(masked(Opcode::Close, "\x03"), kCloseProtocolError);
  for (int code :
       {0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 2000, 2999, 5000, 65535}) {
    expectError(masked(Opcode::Close, bytes({code >> 8, code & 0xFF})), kCloseProtocolError);
  }
  expectError(masked(Opcode::Close, bytes({0x03, 0xE8}) + "\xc3\x28"), kCloseInvalidPayload);
}

TEST(WsFrameParser, NothingIsReadAfterCloseOrError) {
  FrameParser parser;
  const auto events =
      parser.feed(masked(Opcode::Close, closePayload(1000)) + masked(Opcode::Text, "late"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, Type::Close);
  EXPECT_TRUE(parser.finished());
  EXPECT_TRUE(parser.feed(masked(Opcode::Text, "later")).empty());

  FrameParser failed;
  EXPECT_EQ(failed.feed(encodeFrame(Opcode::Text, "x")).size(), 1u);
  EXPECT_TRUE(failed.finished());
  EXPECT_TRUE(failed.feed(masked(Opcode::Text, "valid now")).empty());
}

TEST(WsFrameParser, AnySplitGivesTheSameEvents) {
  std::string stream;
  std::vector<Event> expected;
  const std::string mid(300, 'm');
  const std::string big(70000, 'B');
  stream += masked(Opcode::Text, "{\"type\":\"subscribe\"}");
  expected.push_back({Type::Text, "{\"type\":\"subscribe\"}", 0});
  stream += masked(Opcode::Binary, mid);
  expected.push_back({Type::Binary, mid, 0});
  stream += masked(Opcode::Text, "caf", false) + masked(Opcode::Ping, "keep") +
            masked(Opcode::Continuation, "\xc3\xa9", true);
  expected.push_back({Type::Ping, "keep", 0});
  expected.push_back({Type::Text, "caf\xc3\xa9", 0});
  stream += masked(Opcode::Binary, big.substr(0, 35000), false) +
            masked(Opcode::Continuation, big.substr(35000));
  expected.push_back({Type::Binary, big, 0});
  stream += masked(Opcode::Pong, "");
  expected.push_back({Type::Pong, "", 0});
  stream += masked(Opcode::Close, closePayload(1001, "going"));
  expected.push_back({Type::Close, "going", 1001});
  const ParserOptions options{Role::Server, 100000};

  EXPECT_EQ(parseAll(stream, options), expected);
  EXPECT_EQ(parseByteByByte(stream, options), expected);
  std::mt19937 rng(6455);
  for (int round = 0; round < 50; ++round) {
    FrameParser parser(options);
    std::vector<Event> events;
    std::size_t at = 0;
    while (at < stream.size()) {
      const std::size_t n = std::uniform_int_distribution<std::size_t>(0, 200)(rng);
      for (auto& e : parser.feed(std::string_view(stream).substr(at, n))) {
        events.push_back(std::move(e));
      }
      at += n;
    }
    ASSERT_EQ(events, expected) << "round " << round;
  }
}

TEST(WsUtf8Validator, AgreesWithTheWholeStringValidatorAtEverySplit) {
  const std::vector<std::string> samples = {"plain",
                                            "caf\xc3\xa9",
                                            "\xe2\x82\xac",
                                            "\xf0\x9f\x98\x80",
                                            "\xc3",
                                            "\xc0\xaf",
                                            "\xed\xa0\x80",
                                            "\xed\x9f\xbf",
                                            "\xf4\x90\x80\x80",
                                            "\xf4\x8f\xbf\xbf",
                                            "\xe0\x9f\x80",
                                            "\xe0\xa0\x80",
                                            "\xf0\x8f\x80\x80",
                                            "\xff",
                                            "a\x80",
                                            "\xc2\x80zz",
                                            "0123456789abcdef\xc3\xa9 0123456789abcdef\xe2\x82"};
  for (const auto& s : samples) {
    for (std::size_t cut = 0; cut <= s.size(); ++cut) {
      Utf8Validator v;
      v.feed(std::string_view(s).substr(0, cut));
      v.feed(std::string_view(s).substr(cut));
      EXPECT_EQ(v.complete(), util::isValidUtf8(s)) << "cut " << cut << " of " << s;
    }
  }
  std::mt19937 rng(3629);
  for (int round = 0; round < 20000; ++round) {
    std::string s(std::uniform_int_distribution<std::size_t>(0, 12)(rng), '\0');
    for (char& c : s) {
      // Mostly bytes that matter to UTF-8, so that valid sequences come up often.
      const int pick = std::uniform_int_distribution<int>(0, 9)(rng);
      c = static_cast<char>(pick < 3   ? std::uniform_int_distribution<int>(0x80, 0xBF)(rng)
                            : pick < 8 ? std::uniform_int_distribution<int>(0xC0, 0xFF)(rng)
                                       : std::uniform_int_distribution<int>(0, 0x7F)(rng));
    }
    Utf8Validator v;
    for (char c : s) v.feed(std::string_view(&c, 1));
    ASSERT_EQ(v.complete(), util::isValidUtf8(s));
  }
}

}  // namespace
}  // namespace mp::ws
