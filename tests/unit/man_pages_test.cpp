// The manual pages of man/: each renders with man(1) and groff without a warning; mpctl(1)
// covers every command, option and exit code of mpctl's command tree, metricpulsed(8) every
// option of the daemon, and metricpulse.toml(5) is exactly what the key table generates.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/schema.hpp"
#include "context.hpp"
#include "support/env.hpp"
#include "util/exit_codes.hpp"

namespace mp::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string tool(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/bin"}) {
    const fs::path path = fs::path(dir) / name;
    if (fs::exists(path)) return path.string();
  }
  return {};
}

std::vector<fs::path> pages() {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(sourcePath("man"))) out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos)) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
  return text;
}

// Runs of white space as one space, no space at either end.
std::string squeeze(const std::string& text) {
  std::string out;
  bool space = false;
  for (char ch : text) {
    if (std::isspace(static_cast<unsigned char>(ch))) {
      space = !out.empty();
    } else {
      if (space) out += ' ';
      space = false;
      out += ch;
    }
  }
  return out;
}

// The typographic characters groff may set for ASCII ones, back to ASCII.
std::string ascii(std::string text) {
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, std::string>>{{"\u2010", "-"},
                                                        {"\u2011", "-"},
                                                        {"\u2212", "-"},
                                                        {"\u2018", "'"},
                                                        {"\u2019", "'"},
                                                        {"\u201c", "\""},
                                                        {"\u201d", "\""},
                                                        {"\u2014", "--"}}) {
    text = replaceAll(text, from, to);
  }
  return text;
}

/// A page as man(1) shows it, but never hyphenated nor justified (so that no name is split
/// across lines, and words are one space apart), read line by line into sections and the
/// paragraphs of their tags.
class RenderedPage {
 public:
  explicit RenderedPage(const fs::path& page) {
    std::string source = readFile(page);
    const auto th = source.rfind(".TH ", 0) == 0 ? 0 : source.find("\n.TH ");
    EXPECT_NE(th, std::string::npos) << page;
    if (th != std::string::npos) source.insert(source.find('\n', th + 1) + 1, ".ad l\n");
    const auto copy = dir_.write(page.filename().string(), source);
    const auto result = runProcess({tool("man"), "-l", copy.string()}, "",
                                   {{"MANWIDTH", "100"},
                                    {"MANROFFOPT", "-rHY=0"},
                                    {"MANPAGER", "cat"},
                                    {"PAGER", "cat"},
                                    {"LC_ALL", "C.UTF-8"}});
    EXPECT_EQ(result.exitCode, 0) << page << ": " << result.err;
    EXPECT_EQ(result.err, "") << page;
    text_ = ascii(result.out);
    std::istringstream in(text_);
    for (std::string line; std::getline(in, line);) lines_.push_back(line);
  }

  const std::string& text() const { return text_; }

  /// The headings of the sections (.SH), in order.
  std::vector<std::string> sections() const {
    std::vector<std::string> out;
    for (std::size_t i = 1; i + 1 < lines_.size(); ++i) {
      if (!lines_[i].empty() && !std::isspace(static_cast<unsigned char>(lines_[i][0]))) {
        out.push_back(lines_[i]);
      }
    }
    return out;
  }

  /// The lines of one section, its heading excluded.
  std::vector<std::string> section(const std::string& heading) const {
    std::vector<std::string> out;
    bool inside = false;
    for (std::size_t i = 1; i + 1 < lines_.size(); ++i) {
      const auto& line = lines_[i];
      if (!line.empty() && !std::isspace(static_cast<unsigned char>(line[0]))) {
        inside = line == heading;
        continue;
      }
      if (inside) out.push_back(line);
    }
    return out;
  }

  static std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& line : lines) out += line + "\n";
    return squeeze(out);
  }

  struct Paragraph {
    std::string tag;   ///< the tag of a .TP, its lines joined
    std::string body;  ///< what is indented under it
  };

  /// The tagged paragraphs (.TP) of a section: a tag at the section's indentation, its body
  /// indented further. A tag short enough shares its line with the body's first line.
  static std::vector<Paragraph> paragraphs(const std::vector<std::string>& lines) {
    std::vector<Paragraph> out;
    const std::size_t tagIndent = 7;
    std::size_t i = 0;
    while (i < lines.size()) {
      const auto& line = lines[i];
      if (indent(line) != tagIndent) {
        ++i;
        continue;
      }
      Paragraph p;
      std::string body;
      // A short tag and the body on one line: "       0      Success."
      const auto gap = line.find("  ", tagIndent);
      if (gap != std::string::npos && gap + indent(line.substr(gap)) == 2 * tagIndent) {
        p.tag = squeeze(line.substr(0, gap));
        body = line.substr(gap) + "\n";
        ++i;
      } else {
        std::string tag;
        while (i < lines.size() && indent(lines[i]) == tagIndent) tag += lines[i++] + "\n";
        p.tag = squeeze(tag);
      }
      while (i < lines.size() && (blank(lines[i]) || indent(lines[i]) > tagIndent)) {
        body += lines[i++] + "\n";
      }
      p.body = squeeze(body);
      if (p.body.empty()) continue;  // an untagged paragraph
      out.push_back(p);
    }
    return out;
  }

  /// Lines of a section before its first tagged paragraph: its introduction.
  static std::string introduction(const std::vector<std::string>& lines) {
    std::vector<std::string> intro;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      // A tag: its body follows, indented further (a tag too long for its line goes on).
      std::size_t next = i + 1;
      while (next < lines.size() && indent(lines[next]) == 7) ++next;
      if (indent(lines[i]) == 7 && next < lines.size() && indent(lines[next]) > 7) break;
      intro.push_back(lines[i]);
    }
    return join(intro);
  }

  static bool blank(const std::string& line) {
    return line.find_first_not_of(' ') == std::string::npos;
  }
  /// Columns before the first character; 0 for a blank line.
  static std::size_t indent(const std::string& line) {
    return blank(line) ? 0 : line.find_first_not_of(' ');
  }

 private:
  TempDir dir_;
  std::string text_;
  std::vector<std::string> lines_;
};

// Whether `phrase` occurs in `text` as whole words.
bool hasWords(const std::string& text, const std::string& phrase) {
  for (auto pos = text.find(phrase); pos != std::string::npos; pos = text.find(phrase, pos + 1)) {
    const bool startOk = pos == 0 || !std::isalnum(static_cast<unsigned char>(text[pos - 1]));
    const auto end = pos + phrase.size();
    const bool endOk =
        end == text.size() || !(std::isalnum(static_cast<unsigned char>(text[end])) ||
                                text[end] == '-' || text[end] == '_');
    if (startOk && endOk) return true;
  }
  return false;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

TEST(ManPages, EveryPageRendersWithoutAWarning) {
  const std::string groff = tool("groff");
  ASSERT_FALSE(groff.empty()) << "groff not found: install groff-base (scripts/lib/deps.sh)";
  ASSERT_FALSE(tool("man").empty()) << "man not found: install man-db (scripts/lib/deps.sh)";
  const auto all = pages();
  ASSERT_GE(all.size(), 3u);
  for (const auto& page : all) {
    SCOPED_TRACE(page.filename().string());
    const auto checked = runProcess({groff, "-man", "-Tutf8", "-ww", "-z", page.string()});
    EXPECT_EQ(checked.exitCode, 0) << checked.err;
    EXPECT_EQ(checked.err, "");
    // What mandb files for whatis and apropos: the NAME line must parse.
    const auto whatis = runProcess({tool("lexgrog"), page.string()});
    EXPECT_EQ(whatis.exitCode, 0) << whatis.out << whatis.err;

    RenderedPage rendered(page);
    const auto sections = rendered.sections();
    for (const char* heading : {"NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"}) {
      EXPECT_NE(std::find(sections.begin(), sections.end(), heading), sections.end()) << heading;
    }
  }
}

TEST(ManPages, TheConfigurationPageIsTheGeneratedOne) {
  const auto committed = readFile(sourcePath("man/metricpulse.toml.5"));
  EXPECT_EQ(committed, config::manPage())
      << "man/metricpulse.toml.5 differs from the key table; regenerate it with: "
         "metricpulsed --print-man > man/metricpulse.toml.5";
  const auto printed = runProcess({metricpulsedPath(), "--print-man"});
  EXPECT_EQ(printed.exitCode, 0) << printed.err;
  EXPECT_EQ(printed.out, config::manPage());
}

TEST(ManPages, TheConfigurationPageListsEveryKeyWithItsTypeDefaultRangeAndVariable) {
  RenderedPage page(sourcePath("man/metricpulse.toml.5"));
  for (const char* heading : {"SECTIONS", "ENVIRONMENT", "FILES"}) {
    EXPECT_FALSE(page.section(heading).empty()) << heading;
  }
  std::map<std::string, std::string> bodies;
  for (const auto& p : RenderedPage::paragraphs(page.section("SECTIONS"))) bodies[p.tag] = p.body;
  std::map<std::string, std::string> environment;
  for (const auto& p : RenderedPage::paragraphs(page.section("ENVIRONMENT"))) {
    environment[p.tag] = p.body;
  }
  const auto defaults = config::Config::defaults();
  std::size_t keys = 0;
  for (const auto& key : config::schema()) {
    ++keys;
    const std::string name = key.fullName();
    SCOPED_TRACE(name);
    ASSERT_TRUE(bodies.count(name)) << "no paragraph for " << name;
    const std::string& body = bodies[name];
    EXPECT_THAT(body, HasSubstr("default " + key.show(defaults)));
    EXPECT_THAT(body, HasSubstr(key.allowedText()));
    EXPECT_THAT(body, HasSubstr(squeeze(ascii(std::string(key.help)))));
    if (!key.env.empty()) {
      EXPECT_THAT(body, HasSubstr("environment " + std::string(key.env)));
      EXPECT_EQ(environment[std::string(key.env)], name + ".");
    }
    std::string type;
    switch (key.type) {
      case config::KeyType::kString:
        type = "String";
        break;
      case config::KeyType::kInt:
        type = "Integer";
        break;
      case config::KeyType::kBool:
        type = "Boolean";
        break;
      case config::KeyType::kStringList:
        type = "Array of strings";
        break;
      case config::KeyType::kDuration:
        type = "Duration";
        break;
      case config::KeyType::kEnum:
        type = "One of";
        break;
    }
    EXPECT_EQ(body.rfind(type, 0), 0u) << body;
  }
  EXPECT_EQ(bodies.size(), keys) << "a paragraph for a key the table does not have";
  for (const auto& [section, help] : config::sections()) {
    EXPECT_THAT(page.text(), HasSubstr("   [" + std::string(section) + "]\n")) << section;
  }
}

// A command of mpctl: its words ("retention prune"), options ("--older-than", "-y") and
// positional arguments ("WEBSITE").
struct Command {
  std::string path;
  std::vector<std::string> options;
  std::vector<std::string> positionals;
};

void collect(const CLI::App& app, const std::string& prefix, std::vector<Command>& out) {
  const auto subcommands = app.get_subcommands([](const CLI::App*) { return true; });
  if (subcommands.empty()) {
    Command c{prefix, {}, {}};
    for (const CLI::Option* opt : app.get_options()) {
      if (opt == app.get_help_ptr()) continue;
      if (opt->get_positional()) {
        c.positionals.push_back(opt->get_name());
        continue;
      }
      for (const auto& name : opt->get_lnames()) c.options.push_back("--" + name);
      for (const auto& name : opt->get_snames()) c.options.push_back("-" + name);
    }
    out.push_back(c);
    return;
  }
  for (const CLI::App* sub : subcommands) {
    collect(*sub, prefix.empty() ? sub->get_name() : prefix + " " + sub->get_name(), out);
  }
}

TEST(ManPages, MpctlCoversEveryCommandOptionAndExitCode) {
  cli::Context ctx;
  CLI::App app{"mpctl", "mpctl"};
  cli::defineCommands(app, ctx);
  std::vector<Command> commands;
  collect(app, "", commands);
  ASSERT_GE(commands.size(), 20u);

  RenderedPage page(sourcePath("man/mpctl.1"));
  // Every section of commands: its introduction and its paragraphs.
  struct Entry {
    std::string section;
    std::string intro;
    RenderedPage::Paragraph paragraph;
  };
  std::vector<Entry> entries;
  for (const auto& heading : page.sections()) {
    const auto lines = page.section(heading);
    const std::string intro = RenderedPage::introduction(lines);
    for (const auto& p : RenderedPage::paragraphs(lines)) entries.push_back({heading, intro, p});
  }

  for (const auto& command : commands) {
    SCOPED_TRACE("mpctl " + command.path);
    // The paragraphs whose tag names the command ("stats sources, stats entry-pages, ..." names
    // three), with the introduction of their section, which describes options they share.
    std::string text;
    for (const auto& e : entries) {
      if (hasWords(e.paragraph.tag, command.path)) {
        text += e.intro + " " + e.paragraph.tag + " " + e.paragraph.body + " ";
      }
    }
    ASSERT_FALSE(text.empty()) << "mpctl(1) has no paragraph for mpctl " << command.path;
    for (const auto& option : command.options) {
      EXPECT_TRUE(hasWords(text, option)) << "mpctl " << command.path << " " << option;
    }
    for (const auto& positional : command.positionals) {
      EXPECT_TRUE(hasWords(lower(text), lower(positional)))
          << "mpctl " << command.path << " " << positional;
    }
  }

  // The global options.
  const std::string global = RenderedPage::join(page.section("GLOBAL OPTIONS"));
  for (const CLI::Option* opt : app.get_options()) {
    if (opt == app.get_help_ptr()) continue;
    for (const auto& name : opt->get_lnames()) {
      EXPECT_TRUE(hasWords(global, "--" + name)) << "--" << name;
    }
  }

  std::set<std::string> codes;
  for (const auto& p : RenderedPage::paragraphs(page.section("EXIT STATUS"))) codes.insert(p.tag);
  const std::set<std::string> expected = {
      std::to_string(exit_code::kOk),       std::to_string(exit_code::kFailure),
      std::to_string(exit_code::kUsage),    std::to_string(exit_code::kConfig),
      std::to_string(exit_code::kSchema),   std::to_string(exit_code::kUnavailable),
      std::to_string(exit_code::kNotFound), std::to_string(exit_code::kConflict),
      std::to_string(exit_code::kDataError)};
  EXPECT_EQ(codes, expected);

  const std::string seeAlso = RenderedPage::join(page.section("SEE ALSO"));
  EXPECT_THAT(seeAlso, HasSubstr("metricpulsed(8)"));
  EXPECT_THAT(seeAlso, HasSubstr("metricpulse.toml(5)"));
}

TEST(ManPages, MetricpulsedCoversEveryOptionAndExitCode) {
  const auto help = runProcess({metricpulsedPath(), "--help"});
  ASSERT_EQ(help.exitCode, 0) << help.err;
  // Each option with its short form, if any: {"--config", "-c"}.
  std::vector<std::pair<std::string, std::string>> options;
  const std::regex optionLine(R"(^\s+(?:(-\w),)?(--[a-z][a-z-]*))");
  std::istringstream in(help.out);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, optionLine) && m[2] != "--help") {
      options.emplace_back(m[2], m[1]);
    }
  }
  ASSERT_GE(options.size(), 5u) << help.out;

  RenderedPage page(sourcePath("man/metricpulsed.8"));
  const std::string synopsis = RenderedPage::join(page.section("SYNOPSIS"));
  std::set<std::string> described;
  for (const auto& p : RenderedPage::paragraphs(page.section("OPTIONS"))) {
    for (const auto& [option, shortForm] : options) {
      if (hasWords(p.tag, option)) described.insert(option);
    }
  }
  for (const auto& [option, shortForm] : options) {
    EXPECT_TRUE(described.count(option)) << option << " has no paragraph under OPTIONS";
    EXPECT_TRUE(hasWords(synopsis, option) || (!shortForm.empty() && hasWords(synopsis, shortForm)))
        << option << " is not in the SYNOPSIS";
  }

  std::set<std::string> codes;
  for (const auto& p : RenderedPage::paragraphs(page.section("EXIT STATUS"))) codes.insert(p.tag);
  EXPECT_EQ(codes,
            (std::set<std::string>{
                std::to_string(exit_code::kOk), std::to_string(exit_code::kFailure),
                std::to_string(exit_code::kUsage), std::to_string(exit_code::kConfig),
                std::to_string(exit_code::kSchema), std::to_string(exit_code::kUnavailable)}));

  // Under systemd: the notifications and the watchdog.
  const std::string environment = RenderedPage::join(page.section("ENVIRONMENT"));
  for (const char* variable : {"NOTIFY_SOCKET", "WATCHDOG_USEC"}) {
    EXPECT_THAT(environment, HasSubstr(variable));
  }
  const std::string seeAlso = RenderedPage::join(page.section("SEE ALSO"));
  EXPECT_THAT(seeAlso, HasSubstr("mpctl(1)"));
  EXPECT_THAT(seeAlso, HasSubstr("metricpulse.toml(5)"));
}

}  // namespace
}  // namespace mp::test
