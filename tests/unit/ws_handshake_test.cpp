// Unit tests of the WebSocket opening handshake: the request-head parser, query strings, every
// refusal with its HTTP answer, and RFC 6455's Sec-WebSocket-Accept example.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "ws/handshake.hpp"
#include "ws/http_request.hpp"

namespace mp::ws {
namespace {

using Status = RequestParser::Status;

// RFC 6455 §1.3 and §4.1: the example client handshake.
const std::string kRfcRequest =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

RequestHead parsed(const std::string& text) {
  RequestParser parser;
  EXPECT_EQ(parser.feed(text), Status::Complete) << parser.error();
  return parser.head();
}

// A valid live-feed handshake, with the field called `name` replaced by `line` (dropped when
// `line` is empty).
std::string request(const std::string& name = "", const std::string& line = "") {
  std::string lines[] = {
      "Host: 127.0.0.1:8081", "Upgrade: websocket", "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"};
  std::string text = "GET /ws?token=abc HTTP/1.1\r\n";
  for (auto& l : lines) {
    if (!name.empty() && l.rfind(name + ":", 0) == 0) {
      if (!line.empty()) text += line + "\r\n";
    } else {
      text += l + "\r\n";
    }
  }
  return text + "\r\n";
}

Handshake check(const std::string& text) {
  return checkHandshake(parsed(text));
}

TEST(WsHandshake, RfcAcceptExample) {
  EXPECT_EQ(acceptValue("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WsHandshake, RfcRequestIsAcceptedWithTheRfcAnswer) {
  const Handshake h = check(kRfcRequest);
  ASSERT_TRUE(h.ok()) << h.message;
  EXPECT_EQ(h.key, "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(acceptResponse(h.key),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "\r\n");
}

TEST(WsHandshake, HeaderNamesAndTokensAreCaseInsensitive) {
  const std::string text =
      "GET /ws HTTP/1.1\r\nhost: x\r\nUPGRADE: WebSocket\r\n"
      "connection: keep-alive, Upgrade\r\nsec-websocket-key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"
      "SEC-WEBSOCKET-VERSION: 13\r\n\r\n";
  EXPECT_TRUE(check(text).ok()) << check(text).message;
  // Connection sent twice is one list.
  EXPECT_TRUE(check(request("Connection", "Connection: keep-alive\r\nConnection: upgrade")).ok());
}

TEST(WsHandshake, NotGetIs405WithAllow) {
  std::string text = request();
  text.replace(0, 3, "POST");
  const Handshake h = check(text);
  EXPECT_EQ(h.status, 405);
  EXPECT_EQ(h.code, "method_not_allowed");
  EXPECT_NE(h.response().find("\r\nAllow: GET\r\n"), std::string::npos);
  EXPECT_EQ(h.response().rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u);
}

TEST(WsHandshake, Http10Is400) {
  std::string text = request();
  text.replace(text.find("HTTP/1.1"), 8, "HTTP/1.0");
  EXPECT_EQ(check(text).status, 400);
  text.replace(text.find("HTTP/1.0"), 8, "HTTP/2.0");
  EXPECT_TRUE(check(text).ok());
}

TEST(WsHandshake, HostMissingOrTwiceIs400) {
  EXPECT_EQ(check(request("Host")).status, 400);
  EXPECT_EQ(check(request("Host", "Host: a\r\nHost: b")).status, 400);
}

TEST(WsHandshake, PlainHttpOrAnotherUpgradeIs426) {
  for (const std::string& line :
       {std::string(), std::string("Upgrade: h2c"), std::string("Upgrade: websocketx")}) {
    const Handshake h = check(request("Upgrade", line));
    EXPECT_EQ(h.status, 426) << line;
    EXPECT_EQ(h.code, "upgrade_required");
    const std::string answer = h.response();
    EXPECT_EQ(answer.rfind("HTTP/1.1 426 Upgrade Required\r\n", 0), 0u);
    EXPECT_NE(answer.find("\r\nUpgrade: websocket\r\n"), std::string::npos);
    EXPECT_NE(answer.find("\r\nSec-WebSocket-Version: 13\r\n"), std::string::npos);
  }
}

TEST(WsHandshake, ConnectionWithoutUpgradeIs400) {
  EXPECT_EQ(check(request("Connection", "Connection: keep-alive")).status, 400);
  EXPECT_EQ(check(request("Connection")).status, 400);
  EXPECT_EQ(check(request("Connection", "Connection: upgrade-insecure")).status, 400);
}

TEST(WsHandshake, OtherVersionIs426NamingVersion13) {
  for (const std::string& line :
       {std::string(), std::string("Sec-WebSocket-Version: 8"),
        std::string("Sec-WebSocket-Version: 13, 8"),
        std::string("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13")}) {
    const Handshake h = check(request("Sec-WebSocket-Version", line));
    EXPECT_EQ(h.status, 426) << line;
    EXPECT_NE(h.response().find("\r\nSec-WebSocket-Version: 13\r\n"), std::string::npos);
  }
}

TEST(WsHandshake, BadKeyIs400) {
  for (const std::string& line :
       {std::string(), std::string("Sec-WebSocket-Key: "),
        std::string("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA"),      // 15 bytes
        std::string("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA"),  // 18 bytes, no padding
        std::string("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA*A=="),
        std::string("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=A"),
        std::string("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")}) {
    const Handshake h = check(request("Sec-WebSocket-Key", line));
    EXPECT_EQ(h.status, 400) << line;
    EXPECT_EQ(h.code, "invalid_request");
  }
  EXPECT_TRUE(isValidKey("/+9azAZ09azAZ09azAZ0Aw=="));
}

TEST(WsHandshake, ErrorResponseIsTheApiShapeWithTheRightLength) {
  const std::string answer =
      errorResponse(401, "unauthorized", "bad \"token\"", {{"WWW-Authenticate", "Bearer"}});
  EXPECT_EQ(answer.rfind("HTTP/1.1 401 Unauthorized\r\n", 0), 0u);
  EXPECT_NE(answer.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_NE(answer.find("\r\nWWW-Authenticate: Bearer\r\n"), std::string::npos);
  const auto split = answer.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos);
  const std::string body = answer.substr(split + 4);
  EXPECT_NE(answer.find("Content-Length: " + std::to_string(body.size()) + "\r\n"),
            std::string::npos);
  const auto json = nlohmann::json::parse(body);
  EXPECT_EQ(json["error"]["code"], "unauthorized");
  EXPECT_EQ(json["error"]["message"], "bad \"token\"");
  // The 426 names its own Connection, once.
  const std::string upgrade = check(request("Upgrade")).response();
  EXPECT_EQ(upgrade.find("Connection: close\r\n"), std::string::npos);
  EXPECT_NE(upgrade.find("\r\nConnection: Upgrade, close\r\n"), std::string::npos);
}

TEST(WsRequestParser, ByteByByteEqualsAllAtOnce) {
  RequestParser whole;
  ASSERT_EQ(whole.feed(kRfcRequest), Status::Complete);
  EXPECT_EQ(whole.consumed(), kRfcRequest.size());
  RequestParser bytewise;
  for (std::size_t i = 0; i < kRfcRequest.size(); ++i) {
    const Status s = bytewise.feed(kRfcRequest.substr(i, 1));
    ASSERT_EQ(s, i + 1 == kRfcRequest.size() ? Status::Complete : Status::NeedMore) << i;
    EXPECT_EQ(bytewise.consumed(), 1u);
  }
  EXPECT_EQ(bytewise.head(), whole.head());
  const RequestHead& head = whole.head();
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/chat");
  EXPECT_EQ(head.versionMajor, 1);
  EXPECT_EQ(head.versionMinor, 1);
  ASSERT_EQ(head.headers.size(), 7u);
  EXPECT_EQ(head.headers[5], (HeaderField{"Sec-WebSocket-Protocol", "chat, superchat"}));
  EXPECT_EQ(head.header("origin"), "http://example.com");
  EXPECT_EQ(head.header("Cookie"), std::nullopt);
}

TEST(WsRequestParser, BytesAfterTheHeadAreLeftToTheCaller) {
  RequestParser parser;
  const std::string frame = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
  ASSERT_EQ(parser.feed(kRfcRequest.substr(0, 10)), Status::NeedMore);
  ASSERT_EQ(parser.feed(kRfcRequest.substr(10) + frame), Status::Complete);
  EXPECT_EQ(parser.consumed(), kRfcRequest.size() - 10);
  // Finished: it takes nothing more.
  EXPECT_EQ(parser.feed(frame), Status::Complete);
  EXPECT_EQ(parser.consumed(), 0u);
  EXPECT_EQ(parser.head().target, "/chat");
}

TEST(WsRequestParser, BlankLineSplitAcrossFeeds) {
  for (std::size_t cut = kRfcRequest.size() - 4; cut < kRfcRequest.size(); ++cut) {
    RequestParser parser;
    EXPECT_EQ(parser.feed(kRfcRequest.substr(0, cut)), Status::NeedMore);
    EXPECT_EQ(parser.feed(kRfcRequest.substr(cut)), Status::Complete) << cut;
  }
}

TEST(WsRequestParser, SizeLimitIs431AndTheLimitItselfPasses) {
  const std::string start = "GET /ws HTTP/1.1\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  const std::string exact =
      start + std::string(kMaxRequestHeadBytes - start.size() - end.size(), 'p') + end;
  ASSERT_EQ(exact.size(), kMaxRequestHeadBytes);
  RequestParser fits;
  EXPECT_EQ(fits.feed(exact), Status::Complete);

  const std::string over =
      start + std::string(kMaxRequestHeadBytes - start.size() - end.size() + 1, 'p') + end;
  RequestParser tooBig;
  EXPECT_EQ(tooBig.feed(over), Status::Bad);
  EXPECT_EQ(tooBig.errorStatus(), 431);
  // A stream that never ends its head stops at the limit, fed a byte at a time too.
  RequestParser endless;
  Status s = Status::NeedMore;
  std::size_t fed = 0;
  while (s == Status::NeedMore && fed < 3 * kMaxRequestHeadBytes) {
    s = endless.feed("a");
    ++fed;
  }
  EXPECT_EQ(s, Status::Bad);
  EXPECT_EQ(fed, kMaxRequestHeadBytes);
  EXPECT_EQ(endless.errorStatus(), 431);

  RequestParser small(64);
  EXPECT_EQ(small.feed(kRfcRequest), Status::Bad);
  EXPECT_EQ(small.errorStatus(), 431);
}

TEST(WsRequestParser, TooManyFieldsIs431) {
  std::string text = "GET /ws HTTP/1.1\r\n";
  for (std::size_t i = 0; i <= kMaxHeaderFields; ++i) text += "X-" + std::to_string(i) + ": v\r\n";
  RequestParser parser;
  EXPECT_EQ(parser.feed(text + "\r\n"), Status::Bad);
  EXPECT_EQ(parser.errorStatus(), 431);
  const std::string answer = badRequestResponse(parser);
  EXPECT_EQ(answer.rfind("HTTP/1.1 431 Request Header Fields Too Large\r\n", 0), 0u);
  EXPECT_NE(answer.find("\"code\":\"payload_too_large\""), std::string::npos);
}

TEST(WsRequestParser, MalformedHeadsAre400) {
  for (const std::string& text : {
           std::string("GET /ws HTTP/1.1\nHost: x\r\n\r\n"),       // bare LF
           std::string("GET /ws HTTP/1.1\r\nHost: x\ry\r\n\r\n"),  // bare CR
           std::string("GET /ws HTTP/1.1\r\nHost : x\r\n\r\n"),    // space before colon
           std::string("GET /ws HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"),
           std::string("GET /ws HTTP/1.1\r\nNo colon\r\n\r\n"),
           std::string("GET /ws HTTP/1.1\r\n: empty name\r\n\r\n"),
           std::string("GET /ws HTTP/1.1\r\nX: a\x01z\r\n\r\n"),  // control character
           std::string("GET /ws HTTP/1.1\r\nX: a\x7fz\r\n\r\n"),
           std::string("GET /ws HTTP/1.1\r\nX: a") + std::string(1, '\0') + "z\r\n\r\n",
           std::string("GET /ws HTTP/1.1 \r\n\r\n"),  // extra space
           std::string("GET  /ws HTTP/1.1\r\n\r\n"),
           std::string("GET /ws\r\n\r\n"),  // HTTP/0.9
           std::string("GET /ws HTTP/11\r\n\r\n"),
           std::string("GET /ws http/1.1\r\n\r\n"),
           std::string("GET http://host/ws HTTP/1.1\r\n\r\n"),  // absolute form
           std::string("GET * HTTP/1.1\r\n\r\n"),
           std::string("G(T /ws HTTP/1.1\r\n\r\n"),
           std::string("\r\nGET /ws HTTP/1.1\r\n\r\n"),
           std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15),  // TLS
       }) {
    RequestParser parser;
    EXPECT_EQ(parser.feed(text), Status::Bad) << text;
    EXPECT_EQ(parser.errorStatus(), 400) << text;
    EXPECT_FALSE(parser.error().empty());
    EXPECT_NE(badRequestResponse(parser).find("\"code\":\"invalid_request\""), std::string::npos);
    EXPECT_EQ(parser.feed(kRfcRequest), Status::Bad);
  }
}

TEST(WsRequestParser, ValuesAreTrimmedAndObsTextKept) {
  const RequestHead head =
      parsed("GET /ws HTTP/1.1\r\nX-A:   spaced \t \r\nX-B:\r\nX-C: caf\xc3\xa9\r\n\r\n");
  EXPECT_EQ(head.header("X-A"), "spaced");
  EXPECT_EQ(head.header("X-B"), "");
  EXPECT_EQ(head.header("X-C"), "caf\xc3\xa9");
  EXPECT_EQ(head.headerCount("x-a"), 1u);
  EXPECT_EQ(head.headerList("X-Missing"), "");
}

TEST(WsRequestParser, PathAndQueryAreDecoded) {
  const RequestHead head = parsed(
      "GET /w%73?x=1&token=eyJ.a%2Bb+c&empty=&flag&token=second HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(head.target, "/w%73?x=1&token=eyJ.a%2Bb+c&empty=&flag&token=second");
  EXPECT_EQ(head.path(), "/ws");
  EXPECT_EQ(head.queryParam("token"), "eyJ.a+b c");
  EXPECT_EQ(head.queryParam("x"), "1");
  EXPECT_EQ(head.queryParam("empty"), "");
  EXPECT_EQ(head.queryParam("flag"), "");
  EXPECT_EQ(head.queryParam("missing"), std::nullopt);
  EXPECT_EQ(head.queryParam("tok"), std::nullopt);

  const RequestHead bad = parsed("GET /ws%zz?token=a%2 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(bad.path(), std::nullopt);
  EXPECT_EQ(bad.queryParam("token"), std::nullopt);
  EXPECT_EQ(parsed("GET /ws HTTP/1.1\r\n\r\n").queryParam("token"), std::nullopt);
  EXPECT_EQ(parsed("GET /ws? HTTP/1.1\r\n\r\n").path(), "/ws");
}

TEST(WsRequestParser, PercentDecodeAndTokenLists) {
  EXPECT_EQ(percentDecode("a%20b%2fc+d"), "a b/c+d");
  EXPECT_EQ(percentDecode("a+b", true), "a b");
  EXPECT_EQ(percentDecode("%00"), std::string(1, '\0'));
  EXPECT_EQ(percentDecode("%"), std::nullopt);
  EXPECT_EQ(percentDecode("%4"), std::nullopt);
  EXPECT_EQ(percentDecode("%g0"), std::nullopt);
  EXPECT_TRUE(listHasToken("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(listHasToken(" upgrade ", "upgrade"));
  EXPECT_TRUE(listHasToken("a,,\tUPGRADE\t", "upgrade"));
  EXPECT_FALSE(listHasToken("upgrade-insecure-requests", "upgrade"));
  EXPECT_FALSE(listHasToken("", "upgrade"));
}

}  // namespace
}  // namespace mp::ws
