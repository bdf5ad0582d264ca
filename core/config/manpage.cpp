// metricpulse.toml(5), written from the key table so that the manual lists exactly the keys,
// defaults and ranges the programs accept.
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "config/schema.hpp"

namespace mp::config {
namespace {

// Text for a roff text line: backslashes and hyphens escaped (an unescaped - may be set as a
// hyphen, which does not copy and paste as the ASCII one), a leading . or ' neutralised.
std::string roff(std::string_view text) {
  std::string out;
  for (char ch : text) {
    if (ch == '\\') {
      out += "\\e";
    } else if (ch == '-') {
      out += "\\-";
    } else if (ch == '\n') {
      out += ' ';
    } else {
      out += ch;
    }
  }
  if (!out.empty() && (out.front() == '.' || out.front() == '\'')) out.insert(0, "\\&");
  return out;
}

std::string bold(std::string_view text) {
  return "\\fB" + roff(text) + "\\fR";
}

// "Integer from 1 to 256; default 2; environment MP_…." for one key.
std::string facts(const KeyDef& key, const Config& defaults) {
  std::string type;
  switch (key.type) {
    case KeyType::kString:
      type = "String";
      break;
    case KeyType::kInt:
      type = "Integer from " + key.allowedText();
      break;
    case KeyType::kBool:
      type = "Boolean";
      break;
    case KeyType::kStringList:
      type = "Array of strings";
      break;
    case KeyType::kDuration:
      type = "Duration from " + key.allowedText();
      break;
    case KeyType::kEnum:
      type = "One of " + key.allowedText();
      break;
  }
  std::string out = roff(type) + "; default " + bold(key.show(defaults));
  if (!key.env.empty()) out += "; environment " + bold(key.env);
  return out + ".";
}

}  // namespace

std::string manPage() {
  const Config defaults = Config::defaults();
  std::string out =
      ".\\\" Generated from the configuration key table by `metricpulsed --print-man`; edit "
      "the\n"
      ".\\\" key table (core/config/schema.cpp), not this file.\n"
      ".TH METRICPULSE.TOML 5 \"\" \"MetricPulse\" \"File Formats\"\n"
      ".SH NAME\n"
      "metricpulse.toml \\- configuration file of metricpulsed and mpctl\n"
      ".SH SYNOPSIS\n"
      ".I /etc/metricpulse/metricpulse.toml\n"
      ".SH DESCRIPTION\n"
      ".BR metricpulsed (8)\n"
      "and\n"
      ".BR mpctl (1)\n"
      "read one TOML file, by default\n"
      ".IR /etc/metricpulse/metricpulse.toml ;\n"
      "their option\n"
      ".B \\-c\n"
      ".I file\n"
      "names another. It holds the sections below, each a TOML table of keys. A key left out\n"
      "takes its default, so an empty file gives every default. A section or key not listed\n"
      "here is an error, as is a value of the wrong type or out of its range: the programs "
      "list\n"
      "every problem with its file, line, column and key, and the daemon starts nothing\n"
      "(exit 3).\n"
      ".PP\n"
      "The types of values:\n"
      ".TP\n"
      ".I String\n"
      "A TOML string, such as \"127.0.0.1:8080\".\n"
      ".TP\n"
      ".I Integer\n"
      "A TOML integer within the range given.\n"
      ".TP\n"
      ".I Boolean\n"
      ".B true\n"
      "or\n"
      ".BR false .\n"
      ".TP\n"
      ".I Array of strings\n"
      "Such as [\"10.0.0.0/8\", \"::1\"]; empty by default.\n"
      ".TP\n"
      ".I Duration\n"
      "A string of a whole number and a unit,\n"
      ".BR s \", \" m \", \" h \" or \" d\n"
      "(seconds, minutes, hours, days), such as \"90s\", \"15m\", \"24h\" or \"7d\"; a bare\n"
      "integer is a number of seconds.\n"
      ".TP\n"
      ".I One of\n"
      "A string, one of the words listed.\n"
      ".PP\n"
      "Some values are checked further once the file and the environment are read: listen\n"
      "addresses are host:port or [v6]:port and the three listeners differ; URLs, addresses,\n"
      "CIDRs, origins and paths must be well formed, as each key says.\n"
      ".PP\n"
      ".B metricpulsed \\-\\-check\\-config\n"
      "and\n"
      ".B mpctl config check\n"
      "check a file without starting anything;\n"
      ".B metricpulsed \\-\\-print\\-defaults\n"
      "and\n"
      ".B mpctl config defaults\n"
      "print a file of every default with its help. The daemon reads the file when it starts;\n"
      "on SIGHUP it reads it again for\n"
      ".B log.level\n"
      "alone, and every other change takes a restart.\n"
      ".SH SECTIONS\n";
  for (const auto& [section, help] : sections()) {
    out += ".SS [" + std::string(section) + "]\n" + roff(help) + "\n";
    for (const auto& key : schema()) {
      if (key.section != section) continue;
      out += ".TP\n.B " + key.fullName() + "\n" + facts(key, defaults) + "\n.br\n" +
             roff(key.help) + "\n";
    }
  }
  out +=
      ".SH ENVIRONMENT\n"
      "Each of these variables, when set and not empty, overrides the key beside it, whatever\n"
      "the file says; its value is read as the key's type. Problems in them are reported under\n"
      "the variable's name.\n";
  for (const auto& key : schema()) {
    if (key.env.empty()) continue;
    out += ".TP\n.B " + std::string(key.env) + "\n.BR " + key.fullName() + " .\n";
  }
  out +=
      ".SH FILES\n"
      ".TP\n"
      ".I /etc/metricpulse/metricpulse.toml\n"
      "The configuration. It may hold a database password: keep it readable by root and the\n"
      "group metricpulse alone (mode 0640).\n"
      ".TP\n"
      ".I /etc/metricpulse/jwt.secret\n"
      "The token signing secret, at least 32 bytes, named by\n"
      ".BR auth.jwt_secret_file .\n"
      ".SH EXAMPLES\n"
      "A daemon behind a reverse proxy on the same machine, with a remote database, keeping\n"
      "events for 400 days:\n"
      ".PP\n"
      ".nf\n"
      ".RS\n"
      "[http]\n"
      "trusted_proxies = [\"127.0.0.1\", \"::1\"]\n"
      "\n"
      "[database]\n"
      "url = \"postgresql://metricpulse:secret@db.example.com/metricpulse\"\n"
      "\n"
      "[retention]\n"
      "days = 400\n"
      "\n"
      "[web]\n"
      "ws_url = \"wss://stats.example.com/ws\"\n"
      ".RE\n"
      ".fi\n"
      ".SH SEE ALSO\n"
      ".BR metricpulsed (8),\n"
      ".BR mpctl (1)\n";
  return out;
}

}  // namespace mp::config
