// The incremental RFC 6455 frame parser: bytes in, whole messages and control frames out.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ws/frame.hpp"
#include "ws/utf8_stream.hpp"

namespace mp::ws {

/// The side a parser runs on: a server reads client frames (which must be masked), a client
/// reads server frames (which must not be).
enum class Role { Server, Client };

/// How a FrameParser judges what it reads.
struct ParserOptions {
  /// Server: frames must be masked; Client: frames must not be.
  Role role = Role::Server;
  /// Largest reassembled message (all its fragments together); bigger ones fail with 1009.
  std::size_t maxMessageBytes = kDefaultMaxMessageBytes;
};

/// One thing the peer said: a whole message, a control frame, or the protocol error that ends
/// the connection.
struct Event {
  /// A whole text or binary message, a control frame, or the error that ends the connection.
  enum class Type { Text, Binary, Ping, Pong, Close, Error };
  Type type = Type::Error;
  /// Text or Binary: the whole message; Ping and Pong: their payload; Close: the reason;
  /// Error: what was wrong, for the log and the reason of the Close frame to send.
  std::string payload;
  /// Close: the peer's code (kCloseNoStatus when it sent none); Error: the close code to send.
  std::uint16_t code = 0;

  bool operator==(const Event&) const = default;
};

/// Reassembles messages from frames fed in pieces of any size. Refuses, with the close code the
/// RFC names: reserved bits or opcodes, wrong masking, fragmented or long control frames,
/// broken fragmentation, non-minimal or 2^63+ lengths (1002); messages over the limit (1009),
/// caught from the declared length before anything is buffered; text that is not UTF-8 (1007),
/// caught as soon as the offending byte arrives; bad Close payloads (1002 or 1007).
class FrameParser {
 public:
  /// A parser waiting for the first frame. Never throws.
  explicit FrameParser(ParserOptions options = {}) noexcept;

  /// Consumes all of `data` and returns what it completed, in order (nothing while a frame is
  /// still partial). A Close or Error event is the last one: the parser is then finished and
  /// ignores later bytes. Throws only std::bad_alloc.
  std::vector<Event> feed(std::string_view data);

  /// True once a Close or Error event has been returned.
  bool finished() const noexcept { return state_ == State::Finished; }

  /// Memory held for unfinished frames and messages, in bytes (allocated, not only used).
  std::size_t bufferedBytes() const noexcept;

  /// The most bufferedBytes() can ever be with these options: the message limit, one control
  /// payload, one header and allocator rounding (a hostile declared length never counts).
  std::size_t maxBufferedBytes() const noexcept;

 private:
  enum class State { Header, Payload, Finished };

  // Each returns false after pushing the Error event that finishes the parser.
  bool checkFirstTwoBytes(std::vector<Event>& out);
  bool checkLength(std::vector<Event>& out);
  void consumePayload(std::string_view& data, std::vector<Event>& out);
  void finishFrame(std::vector<Event>& out);
  void finishClose(std::vector<Event>& out);
  void fail(std::vector<Event>& out, std::uint16_t code, std::string reason);
  void appendCapped(std::string& buffer, std::string_view bytes, std::size_t cap);

  ParserOptions options_;
  State state_ = State::Header;

  // The frame being read.
  std::array<std::uint8_t, kMaxFrameHeaderBytes> header_{};
  std::size_t headerHave_ = 0;
  std::size_t headerNeed_ = 2;
  Opcode opcode_ = Opcode::Continuation;
  bool fin_ = false;
  bool masked_ = false;
  std::array<std::uint8_t, 4> mask_{};
  std::uint64_t length_ = 0;
  std::uint64_t read_ = 0;  // payload bytes of this frame seen so far

  // The message being reassembled across frames, and the payload of a control frame.
  bool inMessage_ = false;
  Opcode messageType_ = Opcode::Text;
  std::string message_;
  std::string control_;
  Utf8Validator utf8_;
};

}  // namespace mp::ws
