// Unit tests of the WebSocket frame writer: RFC 6455 §5.7's examples byte for byte, the three
// length encodings, control-frame rules and Close payloads.
#include <gtest/gtest.h>

#include <initializer_list>
#include <stdexcept>
#include <string>

#include "util/utf8.hpp"
#include "ws/frame.hpp"
#include "ws/frame_parser.hpp"

namespace mp::ws {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s.push_back(static_cast<char>(v));
  return s;
}

constexpr MaskKey kRfcMask{0x37, 0xfa, 0x21, 0x3d};

TEST(WsFrameWriter, RfcSingleFrameUnmaskedText) {
  EXPECT_EQ(encodeFrame(Opcode::Text, "Hello"), bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
}

TEST(WsFrameWriter, RfcSingleFrameMaskedText) {
  EXPECT_EQ(encodeClientFrame(Opcode::Text, "Hello", kRfcMask),
            bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
}

TEST(WsFrameWriter, RfcFragmentedUnmaskedText) {
  EXPECT_EQ(encodeFrame(Opcode::Text, "Hel", false), bytes({0x01, 0x03, 0x48, 0x65, 0x6c}));
  EXPECT_EQ(encodeFrame(Opcode::Continuation, "lo"), bytes({0x80, 0x02, 0x6c, 0x6f}));
}

TEST(WsFrameWriter, RfcPingAndMaskedPong) {
  EXPECT_EQ(encodeFrame(Opcode::Ping, "Hello"), bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  EXPECT_EQ(encodeClientFrame(Opcode::Pong, "Hello", kRfcMask),
            bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
}

TEST(WsFrameWriter, Rfc256ByteBinaryUses16BitLength) {
  const std::string payload(256, '\x5a');
  const std::string frame = encodeFrame(Opcode::Binary, payload);
  ASSERT_EQ(frame.size(), 4u + 256u);
  EXPECT_EQ(frame.substr(0, 4), bytes({0x82, 0x7E, 0x01, 0x00}));
  EXPECT_EQ(frame.substr(4), payload);
}

TEST(WsFrameWriter, Rfc64KiBBinaryUses64BitLength) {
  const std::string payload(65536, '\x01');
  const std::string frame = encodeFrame(Opcode::Binary, payload);
  ASSERT_EQ(frame.size(), 10u + 65536u);
  EXPECT_EQ(frame.substr(0, 10), bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));
  EXPECT_EQ(frame.substr(10), payload);
}

TEST(WsFrameWriter, LengthEncodingBoundaries) {
  struct Case {
    std::size_t size;
    std::size_t header;
    std::string lengthBytes;
  };
  for (const auto& c :
       {Case{0, 2, bytes({0x00})}, Case{125, 2, bytes({0x7D})},
        Case{126, 4, bytes({0x7E, 0x00, 0x7E})}, Case{65535, 4, bytes({0x7E, 0xFF, 0xFF})},
        Case{65536, 10, bytes({0x7F, 0, 0, 0, 0, 0, 0x01, 0, 0})}}) {
    EXPECT_EQ(frameHeaderSize(c.size, false), c.header) << c.size;
    EXPECT_EQ(frameHeaderSize(c.size, true), c.header + 4) << c.size;
    const std::string frame = encodeFrame(Opcode::Binary, std::string(c.size, 'x'));
    EXPECT_EQ(frame.size(), c.header + c.size);
    EXPECT_EQ(frame.substr(1, c.header - 1), c.lengthBytes) << c.size;
    const std::string masked =
        encodeClientFrame(Opcode::Binary, std::string(c.size, 'x'), kRfcMask);
    EXPECT_EQ(masked.size(), c.header + 4 + c.size);
    EXPECT_EQ(static_cast<unsigned char>(masked[1]) & 0x80, 0x80);
  }
  EXPECT_EQ(frameHeaderSize(std::uint64_t{1} << 40, false), 10u);
}

TEST(WsFrameWriter, ServerFramesAreNeverMasked) {
  for (Opcode op : {Opcode::Text, Opcode::Binary, Opcode::Ping, Opcode::Pong, Opcode::Close}) {
    EXPECT_EQ(static_cast<unsigned char>(encodeFrame(op, "x")[1]) & 0x80, 0);
  }
}

TEST(WsFrameWriter, ControlFramesStayShortAndWhole) {
  EXPECT_NO_THROW(encodeFrame(Opcode::Ping, std::string(125, 'p')));
  EXPECT_THROW(encodeFrame(Opcode::Ping, std::string(126, 'p')), std::invalid_argument);
  EXPECT_THROW(encodeFrame(Opcode::Pong, std::string(126, 'p')), std::invalid_argument);
  EXPECT_THROW(encodeClientFrame(Opcode::Close, std::string(126, 'p'), kRfcMask),
               std::invalid_argument);
  EXPECT_THROW(encodeFrame(Opcode::Ping, "x", false), std::invalid_argument);
  EXPECT_NO_THROW(encodeFrame(Opcode::Text, std::string(126, 't'), false));
}

TEST(WsFrameWriter, ClosePayloadCarriesCodeAndReason) {
  EXPECT_EQ(closePayload(1000, "bye"), bytes({0x03, 0xE8, 'b', 'y', 'e'}));
  EXPECT_EQ(closePayload(4999), bytes({0x13, 0x87}));
  EXPECT_EQ(encodeCloseFrame(kCloseMessageTooBig, "too big"),
            bytes({0x88, 0x09, 0x03, 0xF1, 't', 'o', 'o', ' ', 'b', 'i', 'g'}));
  for (int code : {0, 999, 1004, 1005, 1006, 1012, 1015, 2999, 5000}) {
    EXPECT_THROW(closePayload(static_cast<std::uint16_t>(code), "x"), std::invalid_argument)
        << code;
  }
  EXPECT_THROW(closePayload(1000, "\xff"), std::invalid_argument);
}

TEST(WsFrameWriter, LongCloseReasonIsCutAtACharacterBoundary) {
  std::string reason;
  for (int i = 0; i < 100; ++i) reason += "\xc3\xa9";  // 200 bytes of "é"
  const std::string payload = closePayload(kCloseNormal, reason);
  EXPECT_LE(payload.size(), kMaxControlPayload);
  EXPECT_EQ(payload.size(), 2u + 122u);  // 61 whole characters fit in 123 bytes, 62 do not
  EXPECT_TRUE(util::isValidUtf8(payload.substr(2)));
  EXPECT_NO_THROW(encodeFrame(Opcode::Close, payload));
}

TEST(WsCloseCodes, Rfc7_4Ranges) {
  for (int code = 0; code <= 65535; ++code) {
    const bool expected = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
                          (code >= 3000 && code <= 4999);
    ASSERT_EQ(isValidCloseCode(static_cast<std::uint16_t>(code)), expected) << code;
  }
}

TEST(WsFrameWriter, RandomMaskKeysVary) {
  const MaskKey first = randomMaskKey();
  bool differs = false;
  for (int i = 0; i < 8 && !differs; ++i) differs = randomMaskKey() != first;
  EXPECT_TRUE(differs);
}

TEST(WsFrameWriter, WhatOneSideWritesTheOtherReads) {
  FrameParser server({Role::Server});
  FrameParser client({Role::Client});
  const std::string big(70000, 'b');
  const MaskKey mask = randomMaskKey();
  std::string toServer = encodeClientFrame(Opcode::Text, "caf\xc3\xa9", mask) +
                         encodeClientFrame(Opcode::Binary, std::string(300, '\0'), mask) +
                         encodeClientFrame(Opcode::Ping, "p", mask) +
                         encodeClientFrame(Opcode::Close, closePayload(1001, "away"), mask);
  std::vector<Event> expected = {{Event::Type::Text, "caf\xc3\xa9", 0},
                                 {Event::Type::Binary, std::string(300, '\0'), 0},
                                 {Event::Type::Ping, "p", 0},
                                 {Event::Type::Close, "away", 1001}};
  EXPECT_EQ(server.feed(toServer), expected);

  FrameParser bigClient({Role::Client, 100000});
  std::string toClient = encodeFrame(Opcode::Binary, big) + encodeFrame(Opcode::Pong, "") +
                         encodeCloseFrame(kCloseGoingAway);
  expected = {{Event::Type::Binary, big, 0},
              {Event::Type::Pong, "", 0},
              {Event::Type::Close, "", kCloseGoingAway}};
  EXPECT_EQ(bigClient.feed(toClient), expected);
  EXPECT_TRUE(client.feed(encodeFrame(Opcode::Text, "hi")) ==
              std::vector<Event>({{Event::Type::Text, "hi", 0}}));
}

}  // namespace
}  // namespace mp::ws
