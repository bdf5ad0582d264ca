// Fuzz target of the WebSocket codec (core/ws): frame parser, UTF-8 validator and request-head
// parser, each fed the input whole and in pieces, with their invariants checked.
//
// Input layout: byte 0 chooses the options (bit 0: parse as a client; bits 1-2: message limit
// 64 KiB, 1 KiB, 16 or 0 bytes; bit 3: also feed byte by byte; bit 4: a 256-byte limit for the
// request head), bytes 1 and 2 place two cuts (as fractions of 256) in the rest, which is the
// data. Inputs under three bytes are data with every option at its default.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "util/utf8.hpp"
#include "ws/frame.hpp"
#include "ws/frame_parser.hpp"
#include "ws/handshake.hpp"
#include "ws/http_request.hpp"
#include "ws/utf8_stream.hpp"

namespace {

using mp::ws::Event;
using mp::ws::FrameParser;
using mp::ws::Opcode;
using mp::ws::ParserOptions;
using mp::ws::RequestParser;
using mp::ws::Role;

// A broken invariant is a crash: libFuzzer keeps the input and the run fails.
void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "ws fuzzer: invariant broken: %s\n", what);
  std::abort();
}

struct Input {
  ParserOptions options;
  bool byteByByte = false;
  std::size_t maxHeadBytes = mp::ws::kMaxRequestHeadBytes;
  std::size_t cut1 = 0;
  std::size_t cut2 = 0;
  std::string_view data;
};

Input decode(const std::uint8_t* bytes, std::size_t size) {
  Input in;
  if (size < 3) {
    in.data = std::string_view(reinterpret_cast<const char*>(bytes), size);
    return in;
  }
  static constexpr std::size_t kLimits[] = {mp::ws::kDefaultMaxMessageBytes, 1024, 16, 0};
  const std::uint8_t flags = bytes[0];
  in.options.role = (flags & 0x01) != 0 ? Role::Client : Role::Server;
  in.options.maxMessageBytes = kLimits[(flags >> 1) & 0x03];
  in.byteByByte = (flags & 0x08) != 0;
  in.maxHeadBytes = (flags & 0x10) != 0 ? 256 : mp::ws::kMaxRequestHeadBytes;
  in.data = std::string_view(reinterpret_cast<const char*>(bytes) + 3, size - 3);
  std::size_t a = bytes[1] * in.data.size() / 256;
  std::size_t b = bytes[2] * in.data.size() / 256;
  if (a > b) std::swap(a, b);
  in.cut1 = a;
  in.cut2 = b;
  return in;
}

// The data in three pieces (some possibly empty).
std::vector<std::string_view> pieces(const Input& in) {
  return {in.data.substr(0, in.cut1), in.data.substr(in.cut1, in.cut2 - in.cut1),
          in.data.substr(in.cut2)};
}

void checkEvents(const std::vector<Event>& events, const ParserOptions& options) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    const bool last = i + 1 == events.size();
    switch (e.type) {
      case Event::Type::Text:
        require(mp::util::isValidUtf8(e.payload), "a text message is valid UTF-8");
        [[fallthrough]];
      case Event::Type::Binary:
        require(e.payload.size() <= options.maxMessageBytes, "a message fits the limit");
        break;
      case Event::Type::Ping:
      case Event::Type::Pong:
        require(e.payload.size() <= mp::ws::kMaxControlPayload, "a control payload fits");
        break;
      case Event::Type::Close:
        require(last, "a close is the last event");
        require(e.code == mp::ws::kCloseNoStatus || mp::ws::isValidCloseCode(e.code),
                "a close code is valid");
        require(e.payload.size() <= mp::ws::kMaxControlPayload - 2, "a close reason fits");
        require(mp::util::isValidUtf8(e.payload), "a close reason is UTF-8");
        break;
      case Event::Type::Error:
        require(last, "an error is the last event");
        require(e.code == mp::ws::kCloseProtocolError || e.code == mp::ws::kCloseInvalidPayload ||
                    e.code == mp::ws::kCloseMessageTooBig,
                "an error carries 1002, 1007 or 1009");
        require(!e.payload.empty(), "an error says why");
        break;
    }
  }
}

std::vector<Event> feedPieces(const std::vector<std::string_view>& parts,
                              const ParserOptions& options) {
  FrameParser parser(options);
  std::vector<Event> events;
  for (std::string_view part : parts) {
    for (auto& e : parser.feed(part)) events.push_back(std::move(e));
    require(parser.bufferedBytes() <= parser.maxBufferedBytes(), "buffering stays in bounds");
  }
  require(parser.finished() == (!events.empty() && (events.back().type == Event::Type::Close ||
                                                    events.back().type == Event::Type::Error)),
          "finished() means a close or an error was returned");
  return events;
}

// Writes `events` back as frames the parser's peer would send and parses them again.
void checkRoundTrip(const std::vector<Event>& events, const Input& in) {
  const mp::ws::MaskKey mask{0x37, 0xfa, 0x21, 0x3d};
  std::string frames;
  std::vector<Event> expected;
  for (const Event& e : events) {
    Opcode op = Opcode::Text;
    std::string payload = e.payload;
    switch (e.type) {
      case Event::Type::Text:
        break;
      case Event::Type::Binary:
        op = Opcode::Binary;
        break;
      case Event::Type::Ping:
        op = Opcode::Ping;
        break;
      case Event::Type::Pong:
        op = Opcode::Pong;
        break;
      case Event::Type::Close:
        op = Opcode::Close;
        payload = e.code == mp::ws::kCloseNoStatus ? std::string()
                                                   : mp::ws::closePayload(e.code, e.payload);
        break;
      case Event::Type::Error:
        continue;
    }
    frames += in.options.role == Role::Server ? mp::ws::encodeClientFrame(op, payload, mask)
                                              : mp::ws::encodeFrame(op, payload);
    expected.push_back(e);
  }
  FrameParser again(in.options);
  require(again.feed(frames) == expected, "written events parse back the same");
}

void fuzzFrames(const Input& in) {
  const std::vector<Event> whole = feedPieces({in.data}, in.options);
  checkEvents(whole, in.options);
  require(feedPieces(pieces(in), in.options) == whole, "any split gives the same events");
  if (in.byteByByte) {
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < in.data.size(); ++i) bytes.push_back(in.data.substr(i, 1));
    require(feedPieces(bytes, in.options) == whole, "byte by byte gives the same events");
  }
  checkRoundTrip(whole, in);
}

void fuzzUtf8(const Input& in) {
  mp::ws::Utf8Validator validator;
  for (std::string_view part : pieces(in)) validator.feed(part);
  require(validator.complete() == mp::util::isValidUtf8(in.data),
          "the incremental UTF-8 check agrees with the whole-string one");
}

void fuzzRequest(const Input& in) {
  RequestParser whole(in.maxHeadBytes);
  const RequestParser::Status status = whole.feed(in.data);
  RequestParser split(in.maxHeadBytes);
  RequestParser::Status splitStatus = RequestParser::Status::NeedMore;
  std::size_t consumed = 0;
  for (std::string_view part : pieces(in)) {
    splitStatus = split.feed(part);
    consumed += split.consumed();
  }
  require(splitStatus == status, "a split request head ends the same way");
  if (status == RequestParser::Status::Bad) {
    require(split.errorStatus() == whole.errorStatus(), "the same refusal either way");
    require(whole.errorStatus() == 400 || whole.errorStatus() == 431, "a refusal is 400 or 431");
    require(mp::ws::badRequestResponse(whole).rfind(
                "HTTP/1.1 " + std::to_string(whole.errorStatus()) + " ", 0) == 0,
            "a refused head is answered with its status");
    return;
  }
  if (status != RequestParser::Status::Complete) return;
  require(consumed == whole.consumed(), "the head is the same bytes either way");
  require(whole.consumed() <= in.maxHeadBytes, "the head fits its limit");
  require(split.head() == whole.head(), "the same head either way");
  const mp::ws::RequestHead& head = whole.head();
  require(!head.target.empty() && head.target.front() == '/', "the target is a path");
  (void)head.path();
  (void)head.queryParam("token");
  const mp::ws::Handshake handshake = mp::ws::checkHandshake(head);
  if (handshake.ok()) {
    require(mp::ws::isValidKey(handshake.key), "an accepted key is valid");
    const std::string answer = mp::ws::acceptResponse(handshake.key);
    require(answer.size() > 4 && answer.substr(answer.size() - 4) == "\r\n\r\n",
            "the 101 answer is a whole head");
  } else {
    require(handshake.status == 400 || handshake.status == 405 || handshake.status == 426,
            "a refused handshake is 400, 405 or 426");
    const std::string answer = handshake.response();
    require(answer.rfind("HTTP/1.1 " + std::to_string(handshake.status) + " ", 0) == 0,
            "a refusal answers with its status");
  }
}

}  // namespace

// libFuzzer fixes the name.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const std::uint8_t* data, std::size_t size) {
  const Input in = decode(data, size);
  fuzzFrames(in);
  fuzzUtf8(in);
  fuzzRequest(in);
  return 0;
}
