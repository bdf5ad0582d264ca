// Written by hand rather than with a library: what a report needs of MIME is a few dozen lines
// (two text parts, quoted-printable, encoded words), and Debian's C++ MIME libraries (vmime,
// mimetic) would bring far more than that into mp_core.
#include "reports/mail.hpp"

#include <openssl/evp.h>

#include <array>
#include <ctime>

#include "util/error.hpp"
#include "util/uuid.hpp"

namespace mp::reports {
namespace {

constexpr std::string_view kHex = "0123456789ABCDEF";

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

void checkHeader(std::string_view name, std::string_view value) {
  if (value.find_first_of("\r\n") != std::string_view::npos) {
    throw InvalidInput(std::string(name), "must not hold a line break");
  }
}

std::string rfc5322Date(std::int64_t nowMillis) {
  const std::time_t t = static_cast<std::time_t>(nowMillis / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

bool printableAscii(std::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> addressOf(std::string_view mailbox) {
  std::string_view address = mailbox;
  const auto open = mailbox.rfind('<');
  if (open != std::string_view::npos) {
    const auto close = mailbox.find('>', open);
    if (close == std::string_view::npos) return std::nullopt;
    address = mailbox.substr(open + 1, close - open - 1);
  }
  while (!address.empty() && address.front() == ' ') address.remove_prefix(1);
  while (!address.empty() && address.back() == ' ') address.remove_suffix(1);
  const auto at = address.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) return std::nullopt;
  for (unsigned char c : address) {
    if (c <= 0x20 || c == 0x7F || c == '<' || c == '>' || c == '"' || c == ',') return std::nullopt;
  }
  return std::string(address);
}

std::string quotedPrintable(std::string_view text) {
  std::string out;
  std::size_t lineLength = 0;
  const auto emit = [&](std::string_view piece) {
    // A soft break keeps every line within 76 characters, the "=" included.
    if (lineLength + piece.size() > 75) {
      out += "=\r\n";
      lineLength = 0;
    }
    out += piece;
    lineLength += piece.size();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\r\n";
      lineLength = 0;
      continue;
    }
    if (c == '\r') continue;
    const bool lineEnds = i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r';
    const bool literal =
        (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !lineEnds);
    if (literal) {
      const char ch = static_cast<char>(c);
      emit(std::string_view(&ch, 1));
    } else {
      const char hex[3] = {'=', kHex[c >> 4], kHex[c & 0x0F]};
      emit(std::string_view(hex, 3));
    }
  }
  return out;
}

std::string encodeHeader(std::string_view value) {
  if (printableAscii(value)) return std::string(value);
  // Encoded words of 64 characters at most (39 bytes of UTF-8 give 52 of base64), cut only
  // between characters, so that a line with the header's name stays within 78.
  std::string out;
  std::size_t start = 0;
  while (start < value.size()) {
    std::size_t end = std::min(value.size(), start + 39);
    while (end < value.size() && end > start &&
           (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) {
      --end;
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(value.substr(start, end - start)) + "?=";
    start = end;
  }
  return out;
}

std::string compose(const MailParts& parts, std::int64_t nowMillis) {
  checkHeader("email.from", parts.from);
  checkHeader("to", parts.to);
  checkHeader("subject", parts.subject);
  const auto fromAddress = addressOf(parts.from);
  if (!fromAddress) throw InvalidInput("email.from", "holds no email address: " + parts.from);
  const std::string domain = fromAddress->substr(fromAddress->find('@') + 1);
  const std::string id = util::uuidV7();
  const std::string boundary = "=_mp_" + id;
  std::string m;
  m += "Date: " + rfc5322Date(nowMillis) + "\r\n";
  m += "From: " + parts.from + "\r\n";
  m += "To: " + parts.to + "\r\n";
  m += "Subject: " + encodeHeader(parts.subject) + "\r\n";
  m += "Message-ID: <" + id + "@" + domain + ">\r\n";
  m += "MIME-Version: 1.0\r\n";
  // Vacation responders and the like answer no automatic mail (RFC 3834).
  m += "Auto-Submitted: auto-generated\r\n";
  m += "Content-Type: multipart/alternative;\r\n boundary=\"" + boundary + "\"\r\n";
  m += "\r\n";
  m += "This is a message in MIME format: a plain text and an HTML version.\r\n";
  const auto part = [&](const char* type, const std::string& body) {
    m += "\r\n--" + boundary + "\r\n";
    m += std::string("Content-Type: ") + type + "; charset=utf-8\r\n";
    m += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    m += quotedPrintable(body);
  };
  part("text/plain", parts.text);
  part("text/html", parts.html);
  m += "\r\n--" + boundary + "--\r\n";
  return m;
}

}  // namespace mp::reports
