// Table, JSON and CSV rendering for mpctl listings.
#include "output.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <ostream>

#include "util/utf8.hpp"

namespace mp::cli {
namespace {

std::string csvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string text(const nlohmann::json& value, const char* nullText) {
  if (value.is_null()) return nullText;
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

}  // namespace

void printRows(std::ostream& out, Format format, const std::vector<Column>& columns,
               const std::vector<std::vector<nlohmann::json>>& rows) {
  switch (format) {
    case Format::kJson: {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& row : rows) {
        nlohmann::json obj = nlohmann::json::object();
        for (std::size_t i = 0; i < columns.size(); ++i) obj[columns[i].key] = row[i];
        list.push_back(std::move(obj));
      }
      out << list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      return;
    }
    case Format::kCsv: {
      for (std::size_t i = 0; i < columns.size(); ++i)
        out << (i ? "," : "") << csvField(columns[i].key);
      out << "\n";
      for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i)
          out << (i ? "," : "") << csvField(text(row[i], ""));
        out << "\n";
      }
      return;
    }
    case Format::kTable: {
      std::vector<std::vector<std::string>> cells;
      for (const auto& row : rows) {
        cells.emplace_back();
        for (const auto& value : row) cells.back().push_back(text(value, "-"));
      }
      std::vector<std::size_t> width(columns.size());
      for (std::size_t i = 0; i < columns.size(); ++i)
        width[i] = util::utf8Length(columns[i].header);
      for (const auto& row : cells) {
        for (std::size_t i = 0; i < row.size(); ++i)
          width[i] = std::max(width[i], util::utf8Length(row[i]));
      }
      auto line = [&](const std::vector<std::string>& fields) {
        std::string joined;
        for (std::size_t i = 0; i < fields.size(); ++i) {
          joined += fields[i];
          // No trailing blanks after the last column.
          if (i + 1 < fields.size())
            joined += std::string(width[i] - util::utf8Length(fields[i]) + 2, ' ');
        }
        out << joined << "\n";
      };
      std::vector<std::string> headers;
      for (const auto& c : columns) headers.push_back(c.header);
      line(headers);
      for (const auto& row : cells) line(row);
      return;
    }
  }
}

}  // namespace mp::cli
