// The layering rules of docs/architecture.md, checked on the sources: who may include whom.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path kRoot = MP_SOURCE_DIR;

struct Include {
  fs::path file;  // the including file, relative to the source root
  std::string header;
  bool quoted;  // "…" rather than <…>
};

// Every #include of the C++ files under `dir` (relative to the source root).
std::vector<Include> includesUnder(const fs::path& dir) {
  static const std::regex kInclude(R"(^\s*#\s*include\s*([<"])([^>"]+)[>"])");
  std::vector<Include> out;
  if (!fs::exists(kRoot / dir)) return out;
  for (const auto& entry : fs::recursive_directory_iterator(kRoot / dir)) {
    const auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".hpp")) continue;
    std::ifstream in(entry.path());
    std::string line;
    std::smatch m;
    while (std::getline(in, line)) {
      if (std::regex_search(line, m, kInclude)) {
        out.push_back({fs::relative(entry.path(), kRoot), m[2].str(), m[1].str() == "\""});
      }
    }
  }
  return out;
}

// Sources the build generates into its own tree (core/CMakeLists.txt).
const std::vector<std::string> kGenerated = {"referrer_table.inc"};

// True when a quoted include of `inc.file` resolves inside one of `roots` (or next to the file),
// or names a file the build generates.
bool resolvesWithin(const Include& inc, const std::vector<fs::path>& roots) {
  for (const auto& generated : kGenerated) {
    if (inc.header == generated) return true;
  }
  if (fs::exists(kRoot / inc.file.parent_path() / inc.header)) return true;
  for (const auto& root : roots) {
    if (fs::exists(kRoot / root / inc.header)) return true;
  }
  return false;
}

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

// core/ is the library every program shares: it includes nothing of the daemon or mpctl, and
// neither the HTTP server nor the event loop.
TEST(Layering, CoreKnowsNoProgram) {
  const auto includes = includesUnder("core");
  ASSERT_FALSE(includes.empty());
  for (const auto& inc : includes) {
    if (inc.quoted) {
      EXPECT_TRUE(resolvesWithin(inc, {"core"})) << inc.file << " includes \"" << inc.header << '"';
    } else {
      EXPECT_FALSE(startsWith(inc.header, "pistache/") || startsWith(inc.header, "event2/"))
          << inc.file << " includes <" << inc.header << '>';
    }
  }
}

// mpctl works on PostgreSQL and Redis through core/ alone; it never reaches into the daemon.
TEST(Layering, MpctlNeverIncludesTheServer) {
  const auto includes = includesUnder("cli");
  ASSERT_FALSE(includes.empty());
  for (const auto& inc : includes) {
    if (inc.quoted) {
      EXPECT_TRUE(resolvesWithin(inc, {"cli", "core"}))
          << inc.file << " includes \"" << inc.header << '"';
    } else {
      EXPECT_FALSE(startsWith(inc.header, "pistache/") || startsWith(inc.header, "event2/"))
          << inc.file << " includes <" << inc.header << '>';
    }
  }
}

// libpq is spoken in core/db only: result guards, COPY and SQLSTATEs have one home.
TEST(Layering, LibpqOnlyInsideCoreDb) {
  for (const fs::path dir : {"core", "daemon", "cli"}) {
    for (const auto& inc : includesUnder(dir)) {
      if (inc.header != "libpq-fe.h" && inc.header != "postgresql/libpq-fe.h") continue;
      EXPECT_TRUE(startsWith(inc.file.string(), "core/db/")) << inc.file << " includes libpq";
    }
  }
}

// Handlers speak HTTP only: the routes and the live feed get what they share from
// daemon/services.hpp and their logic from core/; none includes the server that owns them, none
// speaks libpq, and the routes speak no Redis below core's API either. (The live feed's own
// subscriber, daemon/live/redis_link, is hiredis on libevent: core knows no event loop.)
TEST(Layering, HandlersSpeakHttpOnly) {
  for (const fs::path dir : {"daemon/http", "daemon/live"}) {
    const auto includes = includesUnder(dir);
    ASSERT_FALSE(includes.empty()) << dir;
    for (const auto& inc : includes) {
      EXPECT_NE(fs::path(inc.header).filename(), "server.hpp")
          << inc.file << " includes \"" << inc.header << '"';
      EXPECT_FALSE(inc.header == "libpq-fe.h" || inc.header == "postgresql/libpq-fe.h")
          << inc.file << " includes libpq";
      if (dir == "daemon/http") {
        EXPECT_FALSE(startsWith(inc.header, "hiredis/")) << inc.file << " includes hiredis";
        // Key names and commands are core's (stats cache, queue, announcements).
        EXPECT_NE(inc.header, "redis/keys.hpp") << inc.file << " names Redis keys";
      }
    }
  }
}
