// Log lines under systemd carry the numeric sd-daemon priority journald files them under.
#include "log/log.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "support/env.hpp"

namespace mp::test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string formatted(log::Format format, spdlog::level::level_enum level) {
  const auto formatter = log::makeFormatter(format);
  spdlog::details::log_msg msg("http", level, "something happened");
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  return std::string(out.data(), out.size());
}

TEST(Log, JournalLinesStartWithTheSyslogPriority) {
  EXPECT_EQ(formatted(log::Format::kJournal, spdlog::level::trace),
            "<7>[http] something happened\n");
  EXPECT_EQ(formatted(log::Format::kJournal, spdlog::level::debug),
            "<7>[http] something happened\n");
  EXPECT_EQ(formatted(log::Format::kJournal, spdlog::level::info),
            "<6>[http] something happened\n");
  EXPECT_EQ(formatted(log::Format::kJournal, spdlog::level::warn),
            "<4>[http] something happened\n");
  EXPECT_EQ(formatted(log::Format::kJournal, spdlog::level::err), "<3>[http] something happened\n");
  EXPECT_EQ(formatted(log::Format::kJournal, spdlog::level::critical),
            "<2>[http] something happened\n");
}

TEST(Log, TextLinesCarryATimestampAndTheLevelName) {
  auto line = formatted(log::Format::kText, spdlog::level::warn);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  line.pop_back();
  EXPECT_THAT(line,
              ::testing::MatchesRegex(
                  R"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+ warning \[http\] something happened)"));
}

TEST(Log, DaemonUnderSystemdWritesPriorityPrefixes) {
  // JOURNAL_STREAM is what systemd sets when stderr goes to the journal (log.format = auto).
  TempDir dir;
  const auto path = dir.write(
      "unreachable.toml",
      "[database]\nurl = \"postgresql://127.0.0.1:1/metricpulse\"\nconnect_timeout = \"1s\"\n");
  const auto r = runProcess({metricpulsedPath(), "-c", path.string()}, "",
                            {{"JOURNAL_STREAM", "8:12345"}}, std::chrono::seconds(30));
  EXPECT_EQ(r.exitCode, 5) << r.err;
  EXPECT_THAT(r.err, StartsWith("<6>[main] metricpulsed ")) << r.err;
  EXPECT_THAT(r.err, HasSubstr("\n<2>[main] cannot use PostgreSQL")) << r.err;
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("<info>")));
}

}  // namespace
}  // namespace mp::test
