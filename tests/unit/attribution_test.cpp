// Source and channel attribution: the rules of docs/metrics.md on referrers and UTM tags.
#include "events/attribution.hpp"

#include <gtest/gtest.h>

namespace mp::events {
namespace {

TEST(SourceOfHost, KnowsTheListAndParentDomains) {
  ASSERT_TRUE(sourceOfHost("www.google.com"));
  EXPECT_EQ(sourceOfHost("www.google.com")->name, "Google");
  EXPECT_EQ(sourceOfHost("www.google.com")->kind, SourceKind::kSearch);
  EXPECT_EQ(sourceOfHost("www.google.co.uk")->name, "Google");
  EXPECT_EQ(sourceOfHost("news.ycombinator.com")->name, "Hacker News");
  EXPECT_EQ(sourceOfHost("l.facebook.com")->name, "Facebook");
  EXPECT_EQ(sourceOfHost("l.facebook.com")->kind, SourceKind::kSocial);
  EXPECT_EQ(sourceOfHost("old.reddit.com")->name, "Reddit");
  EXPECT_EQ(sourceOfHost("mail.google.com")->kind, SourceKind::kEmail);
  EXPECT_EQ(sourceOfHost("www.bing.com")->name, "Bing");
}

TEST(SourceOfHost, CorrectsAndExtendsTheList) {
  EXPECT_EQ(sourceOfHost("duckduckgo.com")->name, "DuckDuckGo");
  EXPECT_EQ(sourceOfHost("www.youtube.com")->name, "YouTube");
  EXPECT_EQ(sourceOfHost("x.com")->name, "Twitter");
  EXPECT_EQ(sourceOfHost("t.co")->name, "Twitter");
  EXPECT_EQ(sourceOfHost("bsky.app")->kind, SourceKind::kSocial);
  EXPECT_EQ(sourceOfHost("search.brave.com")->kind, SourceKind::kSearch);
}

TEST(SourceOfHost, UnlistedHostsAndBareSuffixesAreUnknown) {
  EXPECT_FALSE(sourceOfHost("blog.example.org"));
  EXPECT_FALSE(sourceOfHost("com"));
  EXPECT_FALSE(sourceOfHost("co.uk"));
  EXPECT_FALSE(sourceOfHost(""));
}

TEST(SourceNamed, MatchesNamesAndDomainsIgnoringCase) {
  EXPECT_EQ(sourceNamed("google")->name, "Google");
  EXPECT_EQ(sourceNamed("GOOGLE")->kind, SourceKind::kSearch);
  EXPECT_EQ(sourceNamed("facebook.com")->name, "Facebook");
  EXPECT_EQ(sourceNamed("duckduckgo")->name, "DuckDuckGo");
  EXPECT_EQ(sourceNamed("hacker news")->name, "Hacker News");
  EXPECT_FALSE(sourceNamed("newsletter"));
  EXPECT_FALSE(sourceNamed(""));
}

TEST(Attribute, NoReferrerAndNoTagsIsDirect) {
  const auto a = attribute("", "example.com", "");
  EXPECT_FALSE(a.source);
  EXPECT_EQ(a.channel, "Direct");
  EXPECT_FALSE(a.utmSource || a.utmMedium || a.utmCampaign || a.utmTerm || a.utmContent);
}

TEST(Attribute, TheSiteItselfIsNoSource) {
  EXPECT_EQ(attribute("", "example.com", "example.com").channel, "Direct");
  EXPECT_EQ(attribute("", "www.example.com", "example.com").channel, "Direct");
  EXPECT_FALSE(attribute("", "example.com", "www.example.com").source);
  // Another sub-domain of the same site is a referrer like any other.
  EXPECT_EQ(attribute("", "example.com", "docs.example.com").source, "docs.example.com");
}

TEST(Attribute, ReferrersMapToTheirSourceAndChannel) {
  EXPECT_EQ(attribute("", "example.com", "www.google.com").source, "Google");
  EXPECT_EQ(attribute("", "example.com", "www.google.com").channel, "Organic Search");
  EXPECT_EQ(attribute("", "example.com", "news.ycombinator.com").channel, "Organic Social");
  EXPECT_EQ(attribute("", "example.com", "mail.google.com").channel, "Email");
  const auto blog = attribute("", "example.com", "www.someblog.net");
  EXPECT_EQ(blog.source, "someblog.net");
  EXPECT_EQ(blog.channel, "Referral");
}

TEST(Attribute, UtmSourceWinsOverTheReferrer) {
  const auto a = attribute("utm_source=newsletter&utm_medium=email&utm_campaign=spring+sale",
                           "example.com", "www.google.com");
  EXPECT_EQ(a.source, "newsletter");
  EXPECT_EQ(a.utmSource, "newsletter");
  EXPECT_EQ(a.utmMedium, "email");
  EXPECT_EQ(a.utmCampaign, "spring sale");
  EXPECT_EQ(a.channel, "Email");
  EXPECT_EQ(attribute("utm_source=FACEBOOK", "example.com", "").source, "Facebook");
  EXPECT_EQ(attribute("utm_source=FACEBOOK", "example.com", "").channel, "Organic Social");
}

TEST(Attribute, PaidTrafficByMediumOrClickId) {
  EXPECT_EQ(attribute("utm_source=google&utm_medium=cpc", "example.com", "").channel,
            "Paid Search");
  EXPECT_EQ(attribute("gclid=abc", "example.com", "www.google.com").channel, "Paid Search");
  EXPECT_EQ(attribute("utm_source=facebook&utm_medium=paid_social", "example.com", "").channel,
            "Paid Social");
  EXPECT_EQ(attribute("utm_source=partner&utm_medium=ppc", "example.com", "").channel,
            "Paid Other");
  EXPECT_EQ(attribute("utm_source=adnet&utm_medium=banner", "example.com", "").channel, "Display");
  EXPECT_EQ(attribute("utm_source=friend&utm_medium=affiliate", "example.com", "").channel,
            "Affiliates");
}

TEST(Attribute, TagsThatSayNothingKnownAreUnassigned) {
  EXPECT_EQ(attribute("utm_campaign=launch", "example.com", "").channel, "Unassigned");
  EXPECT_EQ(attribute("utm_source=qr-poster", "example.com", "").channel, "Unassigned");
  EXPECT_EQ(attribute("utm_source=qr-poster", "example.com", "").source, "qr-poster");
  EXPECT_EQ(attribute("utm_source=qr-poster", "example.com", "blog.example.net").channel,
            "Referral");
}

TEST(Attribute, KeepsOnlyValuesFitToStore) {
  EXPECT_FALSE(attribute("utm_source=%00x", "example.com", "").utmSource);
  EXPECT_FALSE(attribute("utm_source=%ff", "example.com", "").utmSource);
  EXPECT_FALSE(attribute("utm_source=+++", "example.com", "").utmSource);
  EXPECT_EQ(attribute("utm_source=+x+", "example.com", "").utmSource, "x");
  std::string longValue;
  for (int i = 0; i < 300; ++i) longValue += "%C3%A9";  // é, two bytes each
  const auto a = attribute("utm_term=" + longValue, "example.com", "");
  ASSERT_TRUE(a.utmTerm);
  EXPECT_EQ(a.utmTerm->size(), 2 * kMaxAttributionLength);
}

}  // namespace
}  // namespace mp::events
