// The email reports without a server: their periods, the numbers as words, and the message
// format (quoted-printable, encoded words, the MIME structure) that mail clients read.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "reports/mail.hpp"
#include "reports/period.hpp"
#include "reports/report.hpp"
#include "util/error.hpp"
#include "util/time.hpp"

namespace mp::reports {
namespace {

using std::chrono::sys_days;
using ::testing::HasSubstr;
using ::testing::Not;

sys_days day(const char* text) {
  return *util::parseDate(text);
}

std::string range(const stats::DateRange& r) {
  return util::formatDate(r.from) + ".." + util::formatDate(r.to);
}

TEST(ReportPeriod, DayIsYesterdayComparedWithTheDayBefore) {
  const auto p = lastComplete(Period::kDay, day("2026-03-01"));
  EXPECT_EQ(range(p.range), "2026-02-28..2026-02-28");
  EXPECT_EQ(range(p.previous), "2026-02-27..2026-02-27");
  EXPECT_EQ(describe(p), "Sat 28 Feb 2026");
}

TEST(ReportPeriod, WeekIsTheLastMondayToSundayWeekWhateverTheDay) {
  // 2026-12-07 is a Monday: every day of that week reports 30 Nov – 6 Dec.
  for (const char* today : {"2026-12-07", "2026-12-09", "2026-12-13"}) {
    const auto p = lastComplete(Period::kWeek, day(today));
    EXPECT_EQ(range(p.range), "2026-11-30..2026-12-06") << today;
    EXPECT_EQ(range(p.previous), "2026-11-23..2026-11-29") << today;
  }
  EXPECT_EQ(describe(lastComplete(Period::kWeek, day("2026-12-07"))), "30 Nov\u20136 Dec 2026");
  EXPECT_EQ(describe(lastComplete(Period::kWeek, day("2026-12-16"))), "7\u201313 Dec 2026");
  // Across a new year.
  const auto p = lastComplete(Period::kWeek, day("2027-01-05"));
  EXPECT_EQ(range(p.range), "2026-12-28..2027-01-03");
  EXPECT_EQ(describe(p), "28 Dec 2026\u20133 Jan 2027");
}

TEST(ReportPeriod, MonthIsTheLastCalendarMonthComparedWithTheOneBefore) {
  auto p = lastComplete(Period::kMonth, day("2026-03-01"));
  EXPECT_EQ(range(p.range), "2026-02-01..2026-02-28");
  EXPECT_EQ(range(p.previous), "2026-01-01..2026-01-31");
  EXPECT_EQ(describe(p), "February 2026");
  p = lastComplete(Period::kMonth, day("2027-01-31"));
  EXPECT_EQ(range(p.range), "2026-12-01..2026-12-31");
  EXPECT_EQ(range(p.previous), "2026-11-01..2026-11-30");
  p = lastComplete(Period::kMonth, day("2024-03-15"));
  EXPECT_EQ(range(p.range), "2024-02-01..2024-02-29");
}

TEST(ReportPeriod, NamesAndFrequencies) {
  EXPECT_EQ(parsePeriod("week"), Period::kWeek);
  EXPECT_FALSE(parsePeriod("weekly").has_value());
  EXPECT_EQ(periodOfFrequency("daily"), Period::kDay);
  EXPECT_EQ(periodOfFrequency("monthly"), Period::kMonth);
  EXPECT_FALSE(periodOfFrequency("off").has_value());
  EXPECT_EQ(frequencyOf(Period::kWeek), "weekly");
  EXPECT_EQ(periodName(Period::kMonth), "month");
}

TEST(ReportWords, NumbersChangesAndDurations) {
  EXPECT_EQ(groupDigits(0), "0");
  EXPECT_EQ(groupDigits(999), "999");
  EXPECT_EQ(groupDigits(1000), "1,000");
  EXPECT_EQ(groupDigits(1234567), "1,234,567");
  EXPECT_EQ(percentChange(300, 100), "+200%");
  EXPECT_EQ(percentChange(97, 100), "\u22123%");
  EXPECT_EQ(percentChange(1000, 1001), "\u00b10%");
  EXPECT_EQ(percentChange(5, 0), "new");
  EXPECT_EQ(percentChange(0, 0), "\u2013");
  EXPECT_EQ(percentChange(0, 8), "\u2212100%");
  EXPECT_EQ(duration(0), "0s");
  EXPECT_EQ(duration(45), "45s");
  EXPECT_EQ(duration(65), "1m 05s");
  EXPECT_EQ(duration(3725), "1h 02m");
}

TEST(ReportRender, TextAndHtmlSayTheSameNumbersAndEscapeWhatTheySay) {
  WebsiteReport r;
  r.website = {"0b6a4f5e-8f9b-4d3c-9a55-9c1e1b2a3c4d",
               "u",
               "Shop <&> \"Ann\"",
               "example.com",
               "Europe/Berlin",
               ""};
  r.period = lastComplete(Period::kWeek, day("2026-12-07"));
  r.current = {1234, 1500, 4321, 4400, 600, 1500 * 92000LL, 0};
  r.previous = {1000, 1400, 4400, 4500, 700, 0, 0};
  r.pages = {{"/", 1020}, {"/pricing?<b>", 300}};
  r.sources = {{"Direct / None", 800}, {"Google", 300}};
  r.goals = {{"Signup", 12, 0.97}};
  const auto out = render(r, "https://stats.example.com/");
  EXPECT_EQ(out.subject, "example.com: Weekly report, 30 Nov\u20136 Dec 2026");
  for (const auto* body : {&out.text, &out.html}) {
    EXPECT_THAT(*body, HasSubstr("1,234"));     // visitors
    EXPECT_THAT(*body, HasSubstr("+23%"));      // 1234 against 1000
    EXPECT_THAT(*body, HasSubstr("4,321"));     // page views
    EXPECT_THAT(*body, HasSubstr("\u22122%"));  // 4321 against 4400
    EXPECT_THAT(*body, HasSubstr("40%"));       // bounce rate: 600 of 1500 visits
    EXPECT_THAT(*body, HasSubstr("1m 32s"));    // visit duration
    EXPECT_THAT(*body, HasSubstr("1,020"));
    EXPECT_THAT(*body, HasSubstr("Google"));
    EXPECT_THAT(*body, HasSubstr("Signup"));
    EXPECT_THAT(*body, HasSubstr("0.97%"));
    EXPECT_THAT(*body, HasSubstr("Europe/Berlin"));
  }
  EXPECT_THAT(out.text, HasSubstr("Shop <&> \"Ann\""));
  EXPECT_THAT(out.html, HasSubstr("Shop &lt;&amp;&gt; &quot;Ann&quot;"));
  EXPECT_THAT(out.html, HasSubstr("/pricing?&lt;b&gt;"));
  // A rise is green and a fall red, except for the bounce rate, where lower is better; no
  // change is grey.
  const auto colourOf = [&out](const std::string& change) {
    const auto at = out.html.find(">" + change + "</td>");
    const auto colour = out.html.rfind("color:", at);
    return at == std::string::npos ? std::string() : out.html.substr(colour + 6, 7);
  };
  EXPECT_EQ(colourOf("+23%"), "#047857");          // visitors up
  EXPECT_EQ(colourOf("\u22122%"), "#b91c1c");      // page views down
  EXPECT_EQ(colourOf("\u221210 pts"), "#047857");  // bounce rate down: better
  EXPECT_THAT(out.html, Not(HasSubstr("<script")));
  EXPECT_THAT(out.html, Not(HasSubstr("<style")));  // inline styles only
  const std::string link =
      "https://stats.example.com/?site=0b6a4f5e-8f9b-4d3c-9a55-9c1e1b2a3c4d&period=custom&"
      "from=2026-11-30&to=2026-12-06";
  EXPECT_THAT(out.text, HasSubstr(link));
  EXPECT_THAT(out.html, HasSubstr("https://stats.example.com/?site=0b6a4f5e-8f9b-4d3c-9a55-"
                                  "9c1e1b2a3c4d&amp;period=custom&amp;from=2026-11-30&amp;"
                                  "to=2026-12-06"));
  // No dashboard URL, no link; a quiet period says so rather than showing zeros as changes.
  WebsiteReport quiet;
  quiet.website = r.website;
  quiet.period = r.period;
  const auto empty = render(quiet, "");
  EXPECT_THAT(empty.text, Not(HasSubstr("http")));
  EXPECT_THAT(empty.text, HasSubstr("(none)"));
  EXPECT_THAT(empty.html, HasSubstr("None in this period"));
}

TEST(Mail, AddressOfAMailbox) {
  EXPECT_EQ(addressOf("reports@example.com"), "reports@example.com");
  EXPECT_EQ(addressOf("MetricPulse <reports@example.com>"), "reports@example.com");
  EXPECT_EQ(addressOf(" <a@b.org> "), "a@b.org");
  EXPECT_FALSE(addressOf("MetricPulse").has_value());
  EXPECT_FALSE(addressOf("a b@example.com").has_value());
  EXPECT_FALSE(addressOf("<a@b.org").has_value());
  EXPECT_FALSE(addressOf("@example.com").has_value());
}

// Decodes quoted-printable, for checking the encoder.
std::string decodeQp(const std::string& in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '=' && i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n') {
      i += 2;
    } else if (in[i] == '=') {
      out += static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else if (in[i] == '\r') {
      // CRLF becomes "\n"
    } else {
      out += in[i];
    }
  }
  return out;
}

TEST(Mail, QuotedPrintableKeepsLinesShortAndRoundTrips) {
  const std::string text = "Visitors  1,234  +23%\nBounce = 40% \n" + std::string(200, 'x') +
                           "\nUnicode: \u2212 caf\u00e9 \u2013\n.starts with a dot\n";
  const std::string qp = quotedPrintable(text);
  std::istringstream lines(qp);
  for (std::string line; std::getline(lines, line);) {
    ASSERT_FALSE(line.empty() || line.back() != '\r') << "lines end in CRLF";
    EXPECT_LE(line.size() - 1, 76U) << line;
    EXPECT_NE(line[line.size() - 2], ' ') << "no space before a line end";
  }
  EXPECT_THAT(qp, HasSubstr("Bounce =3D 40%=20\r\n"));
  EXPECT_THAT(qp, HasSubstr("=E2=88=92"));
  EXPECT_EQ(decodeQp(qp), text);
}

TEST(Mail, SubjectsOutsideAsciiBecomeEncodedWords) {
  EXPECT_EQ(encodeHeader("example.com: Weekly report"), "example.com: Weekly report");
  const std::string subject =
      "caf\u00e9.example: Weekly report, 30 Nov\u20136 Dec 2026 \u2014 "
      "with enough words to need a second encoded word";
  const std::string encoded = encodeHeader(subject);
  EXPECT_EQ(encoded.rfind("=?UTF-8?B?", 0), 0U);
  EXPECT_THAT(encoded, HasSubstr("?=\r\n =?UTF-8?B?"));
  std::istringstream lines(encoded);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_LE(line.size() + std::string("Subject: ").size(), 78U) << line;
  }
}

TEST(Mail, ComposedMessageHasTheHeadersAndTwoParts) {
  const auto m = compose({"MetricPulse <reports@example.com>", "ann@example.org", "Hello",
                          "text body\n", "<p>html body</p>\n"},
                         1764918000000);
  EXPECT_THAT(m, HasSubstr("From: MetricPulse <reports@example.com>\r\n"));
  EXPECT_THAT(m, HasSubstr("To: ann@example.org\r\n"));
  EXPECT_THAT(m, HasSubstr("Subject: Hello\r\n"));
  EXPECT_THAT(m, HasSubstr("Date: Fri, 05 Dec 2025 07:00:00 +0000\r\n"));
  EXPECT_THAT(m, HasSubstr("@example.com>\r\n"));  // Message-ID in the sender's domain
  EXPECT_THAT(m, HasSubstr("MIME-Version: 1.0\r\n"));
  EXPECT_THAT(m, HasSubstr("Auto-Submitted: auto-generated\r\n"));
  EXPECT_THAT(m, HasSubstr("Content-Type: multipart/alternative;\r\n boundary=\"=_mp_"));
  EXPECT_THAT(m, HasSubstr("Content-Type: text/plain; charset=utf-8\r\n"));
  EXPECT_THAT(m, HasSubstr("Content-Type: text/html; charset=utf-8\r\n"));
  EXPECT_LT(m.find("text/plain"), m.find("text/html")) << "the preferred part comes last";
  EXPECT_THROW(compose({"reports@example.com", "ann@example.org", "Hi\r\nBcc: x@y", "", ""}, 0),
               InvalidInput);
  EXPECT_THROW(compose({"MetricPulse", "ann@example.org", "Hi", "", ""}, 0), InvalidInput);
}

}  // namespace
}  // namespace mp::reports
