// Where a visit came from: the referrer's known source (referer-parser's list), UTM tags of the
// page URL, and the channel they add up to (docs/metrics.md has the rules and their reasons).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mp::events {

/// The kind of a listed source, which decides its channel.
enum class SourceKind { kSearch, kSocial, kEmail, kOther };

struct KnownSource {
  std::string_view name;  ///< "Google", "Hacker News", "Gmail", …
  SourceKind kind;
};

/// The listed source of a referrer host (lower-case): the host itself or the nearest parent
/// domain that is listed ("l.facebook.com" is Facebook); nullopt for a host not listed.
std::optional<KnownSource> sourceOfHost(std::string_view host);

/// The listed source a `utm_source` value names: a source name or a listed domain, compared
/// case-insensitively ("google", "Facebook", "news.ycombinator.com"); nullopt otherwise.
std::optional<KnownSource> sourceNamed(std::string_view text);

/// The longest UTM value and source kept, in characters; longer ones are cut there.
inline constexpr std::size_t kMaxAttributionLength = 255;

/// What an event's page URL and referrer say of its origin. Empty optionals are NULL columns.
struct Attribution {
  std::optional<std::string> source;  ///< a source name, utm_source, or the referrer's host
  std::string channel;                ///< one of the channel names below, never empty
  std::optional<std::string> utmSource;
  std::optional<std::string> utmMedium;
  std::optional<std::string> utmCampaign;
  std::optional<std::string> utmTerm;
  std::optional<std::string> utmContent;
};

/// The channel names, as the stats answer them.
namespace channel {
inline constexpr std::string_view kDirect = "Direct";
inline constexpr std::string_view kOrganicSearch = "Organic Search";
inline constexpr std::string_view kPaidSearch = "Paid Search";
inline constexpr std::string_view kOrganicSocial = "Organic Social";
inline constexpr std::string_view kPaidSocial = "Paid Social";
inline constexpr std::string_view kPaidOther = "Paid Other";
inline constexpr std::string_view kDisplay = "Display";
inline constexpr std::string_view kEmail = "Email";
inline constexpr std::string_view kAffiliates = "Affiliates";
inline constexpr std::string_view kReferral = "Referral";
inline constexpr std::string_view kUnassigned = "Unassigned";
}  // namespace channel

/// Attributes an event: `pageQuery` is its URL's query string (util::Url::query), `pageHost`
/// and `referrerHost` lower-case hosts (`referrerHost` empty without a referrer). A referrer on
/// the page's own host (www. aside) is internal navigation, not a source. UTM values that are
/// empty, hold control characters or are not UTF-8 once decoded are left out. Never throws
/// but std::bad_alloc.
Attribution attribute(std::string_view pageQuery, std::string_view pageHost,
                      std::string_view referrerHost);

}  // namespace mp::events
