// Email messages (RFC 5322 with MIME): a multipart/alternative of a text and an HTML part in
// UTF-8, quoted-printable, and the subject as encoded words when it is not ASCII.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mp::reports {

/// The address of a From or To value: "a@b.org" → "a@b.org", "Name <a@b.org>" → "a@b.org";
/// nullopt when there is none, or it holds spaces, control characters or no '@'.
std::optional<std::string> addressOf(std::string_view mailbox);

/// Quoted-printable (RFC 2045) of UTF-8 text with "\n" line ends: lines end in CRLF and are at
/// most 76 characters, soft breaks included.
std::string quotedPrintable(std::string_view text);

/// A header value as RFC 2047 encoded words (UTF-8, base64) when it is not printable ASCII, else
/// as it is.
std::string encodeHeader(std::string_view value);

struct MailParts {
  std::string from;     ///< the From header as configured ("Name <a@b>" or "a@b")
  std::string to;       ///< one address
  std::string subject;  ///< UTF-8
  std::string text;     ///< UTF-8, "\n" line ends
  std::string html;     ///< UTF-8
};

/// The whole message with CRLF line ends: Date (`nowMillis`, UTC), From, To, Subject,
/// Message-ID, MIME-Version, Auto-Submitted, and the two parts. Throws InvalidInput when a header
/// value holds a line break.
std::string compose(const MailParts& parts, std::int64_t nowMillis);

}  // namespace mp::reports
