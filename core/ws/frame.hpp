// RFC 6455 frame vocabulary (opcodes, close codes, limits) and the frame writer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mp::ws {

/// Frame opcodes of RFC 6455 §5.2 (every other value is reserved and refused).
enum class Opcode : std::uint8_t {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xA,
};

/// True for Close, Ping and Pong, the frames that may interleave with a fragmented message.
constexpr bool isControl(Opcode opcode) noexcept {
  return (static_cast<std::uint8_t>(opcode) & 0x8) != 0;
}

// Close codes (RFC 6455 §7.4.1) the codec produces or reports.
inline constexpr std::uint16_t kCloseNormal = 1000;
inline constexpr std::uint16_t kCloseGoingAway = 1001;
inline constexpr std::uint16_t kCloseProtocolError = 1002;
inline constexpr std::uint16_t kCloseUnsupportedData = 1003;
/// Reported for a Close frame that carried no code; never sent on the wire.
inline constexpr std::uint16_t kCloseNoStatus = 1005;
inline constexpr std::uint16_t kCloseInvalidPayload = 1007;
inline constexpr std::uint16_t kClosePolicyViolation = 1008;
inline constexpr std::uint16_t kCloseMessageTooBig = 1009;
inline constexpr std::uint16_t kCloseInternalError = 1011;

/// Largest payload of a control frame (RFC 6455 §5.5).
inline constexpr std::size_t kMaxControlPayload = 125;
/// Largest frame header: 2 bytes, a 64-bit length and a masking key.
inline constexpr std::size_t kMaxFrameHeaderBytes = 14;
/// Largest reassembled message the live feed accepts by default (64 KiB).
inline constexpr std::size_t kDefaultMaxMessageBytes = std::size_t{64} * 1024;

/// True when `code` may travel in a Close frame (RFC 6455 §7.4: 1000–1003, 1007–1011 and
/// 3000–4999; 1004–1006, 1015 and the rest of 0–2999 are reserved).
constexpr bool isValidCloseCode(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
         (code >= 3000 && code <= 4999);
}

/// The four-byte masking key of a client frame.
using MaskKey = std::array<std::uint8_t, 4>;

/// Size of the header of a frame carrying `payloadSize` bytes: 2, 4 or 10 bytes, plus 4 when
/// masked. Never throws.
std::size_t frameHeaderSize(std::uint64_t payloadSize, bool masked) noexcept;

/// A complete server frame (never masked): header and payload in one buffer, so that one
/// serialisation can be shared by every subscriber. Throws std::invalid_argument for a control
/// frame over 125 bytes or without FIN.
std::string encodeFrame(Opcode opcode, std::string_view payload, bool fin = true);

/// A complete client frame, its payload masked with `mask` (RFC 6455 §5.3). Throws like
/// encodeFrame.
std::string encodeClientFrame(Opcode opcode, std::string_view payload, const MaskKey& mask,
                              bool fin = true);

/// A masking key from OpenSSL's generator, as RFC 6455 §5.3 asks of clients. Throws
/// std::runtime_error when the generator fails.
MaskKey randomMaskKey();

/// The payload of a Close frame: `code` in network order, then `reason` cut at a character
/// boundary to fit 125 bytes. Throws std::invalid_argument for a code that may not be sent or a
/// reason that is not UTF-8.
std::string closePayload(std::uint16_t code, std::string_view reason = {});

/// A complete server Close frame carrying closePayload(code, reason). Throws like closePayload.
std::string encodeCloseFrame(std::uint16_t code, std::string_view reason = {});

}  // namespace mp::ws
