// The frame writer: one buffer per frame so the live feed serialises each event once.
#include "ws/frame.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

#include "util/utf8.hpp"

namespace mp::ws {
namespace {

void checkControl(Opcode opcode, std::size_t size, bool fin) {
  if (!isControl(opcode)) return;
  if (size > kMaxControlPayload) {
    throw std::invalid_argument("a control frame carries at most 125 bytes");
  }
  if (!fin) throw std::invalid_argument("a control frame cannot be fragmented");
}

// Writes the header into `out`, which is sized for it, and returns the bytes written.
std::size_t writeHeader(char* out, Opcode opcode, std::uint64_t size, bool fin,
                        const MaskKey* mask) noexcept {
  std::size_t n = 0;
  out[n++] = static_cast<char>((fin ? 0x80 : 0x00) | static_cast<std::uint8_t>(opcode));
  const std::uint8_t maskBit = mask != nullptr ? 0x80 : 0x00;
  // RFC 6455 §5.2: the minimal length encoding is the only valid one.
  if (size <= 125) {
    out[n++] = static_cast<char>(maskBit | size);
  } else if (size <= 0xFFFF) {
    out[n++] = static_cast<char>(maskBit | 126);
    out[n++] = static_cast<char>((size >> 8) & 0xFF);
    out[n++] = static_cast<char>(size & 0xFF);
  } else {
    out[n++] = static_cast<char>(maskBit | 127);
    for (int shift = 56; shift >= 0; shift -= 8) {
      out[n++] = static_cast<char>((size >> shift) & 0xFF);
    }
  }
  if (mask != nullptr) {
    for (std::uint8_t b : *mask) out[n++] = static_cast<char>(b);
  }
  return n;
}

std::string encode(Opcode opcode, std::string_view payload, bool fin, const MaskKey* mask) {
  checkControl(opcode, payload.size(), fin);
  const std::size_t headerSize = frameHeaderSize(payload.size(), mask != nullptr);
  std::string frame(headerSize + payload.size(), '\0');
  writeHeader(frame.data(), opcode, payload.size(), fin, mask);
  char* body = frame.data() + headerSize;
  if (mask == nullptr) {
    payload.copy(body, payload.size());
  } else {
    for (std::size_t i = 0; i < payload.size(); ++i) {
      body[i] = static_cast<char>(static_cast<std::uint8_t>(payload[i]) ^ (*mask)[i % 4]);
    }
  }
  return frame;
}

}  // namespace

std::size_t frameHeaderSize(std::uint64_t payloadSize, bool masked) noexcept {
  std::size_t n = 2;
  if (payloadSize > 0xFFFF) {
    n += 8;
  } else if (payloadSize > 125) {
    n += 2;
  }
  return masked ? n + 4 : n;
}

std::string encodeFrame(Opcode opcode, std::string_view payload, bool fin) {
  return encode(opcode, payload, fin, nullptr);
}

std::string encodeClientFrame(Opcode opcode, std::string_view payload, const MaskKey& mask,
                              bool fin) {
  return encode(opcode, payload, fin, &mask);
}

MaskKey randomMaskKey() {
  MaskKey key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    throw std::runtime_error("the random generator failed to make a masking key");
  }
  return key;
}

std::string closePayload(std::uint16_t code, std::string_view reason) {
  if (!isValidCloseCode(code)) {
    throw std::invalid_argument("close code " + std::to_string(code) + " may not be sent");
  }
  if (!util::isValidUtf8(reason)) {
    throw std::invalid_argument("a close reason must be UTF-8 text");
  }
  std::size_t keep = std::min(reason.size(), kMaxControlPayload - 2);
  // Back off to a character boundary so the cut reason stays valid UTF-8 for the peer.
  while (keep < reason.size() && keep > 0 &&
         (static_cast<std::uint8_t>(reason[keep]) & 0xC0) == 0x80) {
    --keep;
  }
  std::string payload;
  payload.reserve(2 + keep);
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason.substr(0, keep));
  return payload;
}

std::string encodeCloseFrame(std::uint16_t code, std::string_view reason) {
  return encodeFrame(Opcode::Close, closePayload(code, reason));
}

}  // namespace mp::ws
