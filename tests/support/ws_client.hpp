// A small blocking WebSocket client for tests, built on the core codec (core/ws).
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ws/frame_parser.hpp"

namespace mp::test {

/// One connection to a live feed: the upgrade, masked frames out, parsed frames in.
class WsClient {
 public:
  WsClient() = default;
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  /// Shrinks the socket's receive buffer before connect() (for clients that do not read).
  void setReceiveBuffer(int bytes) { receiveBuffer_ = bytes; }

  /// Connects to 127.0.0.1:`port` and sends an upgrade request for `target` with extra header
  /// lines ("Name: value"); returns the HTTP status of the answer (101 on success, 0 when no
  /// answer came). Throws std::runtime_error when the socket cannot connect.
  int connect(int port, const std::string& target, const std::vector<std::string>& headers = {});

  /// The answer's head and body (for refused upgrades).
  const std::string& responseHead() const { return head_; }
  const std::string& responseBody() const { return body_; }

  /// Sends a masked text frame.
  void sendText(std::string_view text);
  /// Sends a masked frame of any kind.
  void sendFrame(ws::Opcode opcode, std::string_view payload, bool fin = true);
  /// Sends bytes as they are (for malformed frames).
  void sendRaw(std::string_view bytes);

  /// The next frame from the server, answering pings on the way when `answerPings`; nullopt
  /// when none came before `timeout` or the connection ended (see closed()).
  std::optional<ws::Event> next(std::chrono::milliseconds timeout, bool answerPings = true);
  /// The next text message parsed as JSON whose "type" is `type`, skipping others; nullopt on
  /// timeout or end.
  std::optional<nlohmann::json> nextOfType(const std::string& type,
                                           std::chrono::milliseconds timeout);
  /// Waits for a Close frame and returns its code, skipping everything else; nullopt when the
  /// connection ended without one or nothing came in time.
  std::optional<std::uint16_t> waitClose(std::chrono::milliseconds timeout);
  /// True once the server closed the TCP connection (read returned 0 or an error).
  bool closed() const { return closed_; }
  /// Waits until the server ends the TCP connection, discarding what it sends.
  bool waitEnd(std::chrono::milliseconds timeout);

 private:
  bool readMore(std::chrono::milliseconds timeout);

  int fd_ = -1;
  int receiveBuffer_ = 0;
  bool closed_ = false;
  std::string head_;
  std::string body_;
  std::string pending_;  // bytes read past the handshake answer
  ws::FrameParser parser_{ws::ParserOptions{ws::Role::Client, std::size_t{16} * 1024 * 1024}};
  std::vector<ws::Event> events_;
};

}  // namespace mp::test
