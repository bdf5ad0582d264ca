// The frame parser as a byte-driven state machine. It keeps no copy of the raw stream: header
// bytes go to a 14-byte array and payload bytes, unmasked, straight into the message, so memory
// follows what has actually arrived and never what a header claims.
#include "ws/frame_parser.hpp"

#include <algorithm>
#include <utility>

#include "util/utf8.hpp"

namespace mp::ws {
namespace {

bool isKnownOpcode(std::uint8_t op) noexcept {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

}  // namespace

FrameParser::FrameParser(ParserOptions options) noexcept : options_(options) {}

std::size_t FrameParser::bufferedBytes() const noexcept {
  // std::string keeps up to 15 bytes inline; only heap capacity is memory the parser holds.
  const auto heap = [](const std::string& s) {
    return s.capacity() > 15 ? s.capacity() : std::size_t{0};
  };
  return headerHave_ + heap(message_) + heap(control_);
}

std::size_t FrameParser::maxBufferedBytes() const noexcept {
  // Allocators round a request up a little (16-byte steps, a 30-byte minimum): some slack for
  // each of the two buffers.
  constexpr std::size_t kRoundingSlack = 32;
  return options_.maxMessageBytes + kMaxControlPayload + kMaxFrameHeaderBytes + 2 * kRoundingSlack;
}

std::vector<Event> FrameParser::feed(std::string_view data) {
  std::vector<Event> out;
  while (!data.empty() && state_ != State::Finished) {
    if (state_ == State::Header) {
      const std::size_t take = std::min(headerNeed_ - headerHave_, data.size());
      std::copy_n(reinterpret_cast<const std::uint8_t*>(data.data()), take,
                  header_.begin() + static_cast<std::ptrdiff_t>(headerHave_));
      headerHave_ += take;
      data.remove_prefix(take);
      if (headerHave_ < headerNeed_) break;
      if (headerHave_ == 2) {
        // Judge everything the first two bytes tell before waiting for the rest of the header.
        if (!checkFirstTwoBytes(out)) break;
        if (headerHave_ < headerNeed_) continue;
      }
      if (!checkLength(out)) break;
      if (masked_) {
        std::copy_n(header_.begin() + static_cast<std::ptrdiff_t>(headerNeed_ - 4), 4,
                    mask_.begin());
      }
      headerHave_ = 0;
      headerNeed_ = 2;
      read_ = 0;
      state_ = State::Payload;
      if (length_ == 0) finishFrame(out);
      continue;
    }
    consumePayload(data, out);
  }
  return out;
}

bool FrameParser::checkFirstTwoBytes(std::vector<Event>& out) {
  const std::uint8_t b0 = header_[0];
  const std::uint8_t b1 = header_[1];
  fin_ = (b0 & 0x80) != 0;
  masked_ = (b1 & 0x80) != 0;
  const std::uint8_t op = b0 & 0x0F;
  const std::uint8_t len7 = b1 & 0x7F;
  // No extension is ever negotiated, so no reserved bit may be set (RFC 6455 §5.2).
  if ((b0 & 0x70) != 0) {
    fail(out, kCloseProtocolError, "reserved bits set");
    return false;
  }
  if (!isKnownOpcode(op)) {
    fail(out, kCloseProtocolError, "unknown opcode " + std::to_string(op));
    return false;
  }
  opcode_ = static_cast<Opcode>(op);
  if (options_.role == Role::Server && !masked_) {
    fail(out, kCloseProtocolError, "unmasked client frame");
    return false;
  }
  if (options_.role == Role::Client && masked_) {
    fail(out, kCloseProtocolError, "masked server frame");
    return false;
  }
  if (isControl(opcode_)) {
    if (!fin_) {
      fail(out, kCloseProtocolError, "fragmented control frame");
      return false;
    }
    if (len7 > kMaxControlPayload) {
      fail(out, kCloseProtocolError, "control frame over 125 bytes");
      return false;
    }
  } else if (opcode_ == Opcode::Continuation) {
    if (!inMessage_) {
      fail(out, kCloseProtocolError, "continuation frame without a message to continue");
      return false;
    }
  } else if (inMessage_) {
    fail(out, kCloseProtocolError, "new message inside a fragmented one");
    return false;
  }
  headerNeed_ = 2 + (len7 == 126 ? 2 : 0) + (len7 == 127 ? 8 : 0) + (masked_ ? 4 : 0);
  return true;
}

bool FrameParser::checkLength(std::vector<Event>& out) {
  const std::uint8_t len7 = header_[1] & 0x7F;
  if (len7 < 126) {
    length_ = len7;
  } else if (len7 == 126) {
    length_ = (std::uint64_t{header_[2]} << 8) | header_[3];
    if (length_ < 126) {
      fail(out, kCloseProtocolError, "length not in its shortest encoding");
      return false;
    }
  } else {
    length_ = 0;
    for (std::size_t i = 2; i < 10; ++i) length_ = (length_ << 8) | header_[i];
    if ((length_ >> 63) != 0) {
      fail(out, kCloseProtocolError, "length with its most significant bit set");
      return false;
    }
    if (length_ <= 0xFFFF) {
      fail(out, kCloseProtocolError, "length not in its shortest encoding");
      return false;
    }
  }
  if (!isControl(opcode_)) {
    // Judged on the declared length, before any of the payload is stored.
    const std::size_t have = inMessage_ ? message_.size() : 0;
    if (length_ > options_.maxMessageBytes - have) {
      fail(out, kCloseMessageTooBig,
           "message over " + std::to_string(options_.maxMessageBytes) + " bytes");
      return false;
    }
    if (!inMessage_) {
      messageType_ = opcode_;
      message_.clear();
      utf8_.reset();
      inMessage_ = true;
    }
  } else {
    control_.clear();
  }
  return true;
}

void FrameParser::appendCapped(std::string& buffer, std::string_view bytes, std::size_t cap) {
  const std::size_t need = buffer.size() + bytes.size();
  if (need > buffer.capacity()) {
    // Grow geometrically for speed, but never past the limit (the checks before guarantee
    // `need <= cap`). A fresh string is reserved because reserve() on a full one may double
    // its capacity whatever was asked for.
    std::string grown;
    grown.reserve(std::min(std::max(need, 2 * buffer.capacity()), cap));
    grown.append(buffer);
    buffer.swap(grown);
  }
  buffer.append(bytes);
}

void FrameParser::consumePayload(std::string_view& data, std::vector<Event>& out) {
  const auto take = static_cast<std::size_t>(
      std::min<std::uint64_t>(length_ - read_, static_cast<std::uint64_t>(data.size())));
  const bool control = isControl(opcode_);
  std::string& target = control ? control_ : message_;
  const std::size_t start = target.size();
  appendCapped(target, data.substr(0, take),
               control ? kMaxControlPayload : options_.maxMessageBytes);
  data.remove_prefix(take);
  if (masked_) {
    char* p = target.data() + start;
    // The key's phase continues from where the previous piece of this frame stopped.
    const auto phase = static_cast<std::size_t>(read_ % 4);
    for (std::size_t i = 0; i < take; ++i) {
      p[i] = static_cast<char>(static_cast<std::uint8_t>(p[i]) ^ mask_[(phase + i) % 4]);
    }
  }
  read_ += take;
  if (!control && messageType_ == Opcode::Text &&
      !utf8_.feed(std::string_view(target).substr(start))) {
    fail(out, kCloseInvalidPayload, "text message is not valid UTF-8");
    return;
  }
  if (read_ == length_) finishFrame(out);
}

void FrameParser::finishFrame(std::vector<Event>& out) {
  state_ = State::Header;
  switch (opcode_) {
    case Opcode::Ping:
      out.push_back({Event::Type::Ping, std::move(control_), 0});
      control_.clear();
      return;
    case Opcode::Pong:
      out.push_back({Event::Type::Pong, std::move(control_), 0});
      control_.clear();
      return;
    case Opcode::Close:
      finishClose(out);
      return;
    default:
      break;
  }
  if (!fin_) return;
  if (messageType_ == Opcode::Text && !utf8_.complete()) {
    fail(out, kCloseInvalidPayload, "text message ends inside a UTF-8 sequence");
    return;
  }
  out.push_back({messageType_ == Opcode::Text ? Event::Type::Text : Event::Type::Binary,
                 std::move(message_), 0});
  message_ = std::string();
  inMessage_ = false;
}

void FrameParser::finishClose(std::vector<Event>& out) {
  if (control_.size() == 1) {
    fail(out, kCloseProtocolError, "close frame with a one-byte payload");
    return;
  }
  std::uint16_t code = kCloseNoStatus;
  std::string reason;
  if (control_.size() >= 2) {
    code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(control_[0]) << 8) |
                                      static_cast<std::uint8_t>(control_[1]));
    if (!isValidCloseCode(code)) {
      fail(out, kCloseProtocolError, "invalid close code " + std::to_string(code));
      return;
    }
    reason = control_.substr(2);
    if (!util::isValidUtf8(reason)) {
      fail(out, kCloseInvalidPayload, "close reason is not valid UTF-8");
      return;
    }
  }
  out.push_back({Event::Type::Close, std::move(reason), code});
  state_ = State::Finished;
  control_ = std::string();
  message_ = std::string();
}

void FrameParser::fail(std::vector<Event>& out, std::uint16_t code, std::string reason) {
  out.push_back({Event::Type::Error, std::move(reason), code});
  state_ = State::Finished;
  // Nothing more will be read: give the memory back now rather than with the connection.
  control_ = std::string();
  message_ = std::string();
  headerHave_ = 0;
}

}  // namespace mp::ws
