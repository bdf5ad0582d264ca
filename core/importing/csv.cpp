// A small state machine over a refilled buffer: no record is held beyond the one being read.
#include "importing/csv.hpp"

#include "util/error.hpp"

namespace mp::importing {

CsvReader::CsvReader(Source source) : source_(std::move(source)), buffer_(256 * 1024) {}

bool CsvReader::fill() {
  if (eof_) return false;
  pos_ = 0;
  end_ = source_(buffer_.data(), buffer_.size());
  if (end_ == 0) eof_ = true;
  return end_ > 0;
}

bool CsvReader::next(std::vector<std::string>& fields) {
  fields.clear();
  enum class State { kStart, kField, kQuoted, kQuoteInQuoted, kAfterCr };
  State state = State::kStart;
  std::string field;
  bool any = false;  // the record has a character (a blank line has none)
  const auto endField = [&] {
    fields.push_back(std::move(field));
    field.clear();
  };
  for (;;) {
    if (pos_ == end_ && !fill()) break;
    char c = buffer_[pos_++];
    ++consumed_;
    if (first_) {
      first_ = false;
      // A UTF-8 byte order mark (EF BB BF) before the first field.
      if (static_cast<unsigned char>(c) == 0xEF) {
        std::string bom(1, c);
        while (bom.size() < 3 && (pos_ < end_ || fill())) {
          bom += buffer_[pos_++];
          ++consumed_;
        }
        if (bom == "\xEF\xBB\xBF") continue;
        // Not a BOM: these bytes begin the first field.
        field = bom.substr(0, bom.size() - 1);
        c = bom.back();
        state = State::kField;
        any = true;
        recordLine_ = lineNo_;
      }
    }
    if (state == State::kAfterCr) {
      if (c == '\n') {
        ++lineNo_;
        if (any) {
          endField();
          return true;
        }
        state = State::kStart;
        continue;
      }
      // A lone \r ends the line too.
      ++lineNo_;
      if (any) {
        --pos_;
        --consumed_;
        endField();
        return true;
      }
      state = State::kStart;
    }
    if (!any && (state == State::kStart)) {
      if (c == '\n') {
        ++lineNo_;
        continue;  // blank line
      }
      if (c == '\r') {
        state = State::kAfterCr;
        continue;
      }
      recordLine_ = lineNo_;
      any = true;
    }
    switch (state) {
      case State::kStart:
        if (c == '"') {
          state = State::kQuoted;
        } else if (c == ',') {
          endField();
        } else if (c == '\n') {
          ++lineNo_;
          endField();
          return true;
        } else if (c == '\r') {
          state = State::kAfterCr;
        } else {
          field += c;
          state = State::kField;
        }
        break;
      case State::kField:
        if (c == ',') {
          endField();
          state = State::kStart;
        } else if (c == '\n') {
          ++lineNo_;
          endField();
          return true;
        } else if (c == '\r') {
          state = State::kAfterCr;
        } else {
          field += c;
        }
        break;
      case State::kQuoted:
        if (c == '"') {
          state = State::kQuoteInQuoted;
        } else {
          if (c == '\n') ++lineNo_;
          field += c;
        }
        break;
      case State::kQuoteInQuoted:
        if (c == '"') {
          field += '"';
          state = State::kQuoted;
        } else if (c == ',') {
          endField();
          state = State::kStart;
        } else if (c == '\n') {
          ++lineNo_;
          endField();
          return true;
        } else if (c == '\r') {
          state = State::kAfterCr;
        } else {
          throw InvalidInput("file", "line " + std::to_string(recordLine_) +
                                         ": text after the closing quote of a field");
        }
        break;
      case State::kAfterCr:
        break;
    }
  }
  if (state == State::kQuoted) {
    throw InvalidInput("file", "line " + std::to_string(recordLine_) +
                                   ": a quoted field is not closed before the end of the file");
  }
  if (!any) return false;
  endField();
  return true;
}

}  // namespace mp::importing
