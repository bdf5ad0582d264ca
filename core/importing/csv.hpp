// Reading CSV files as the analytics tools write them (RFC 4180: quoted fields with doubled
// quotes, line breaks inside quotes, \n or \r\n), a record at a time, with the line each began on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mp::importing {

/// Reads records from a byte source. Blank lines are skipped; a UTF-8 byte order mark before
/// the first record is dropped.
class CsvReader {
 public:
  /// Fills up to `size` bytes of `buffer`; returns how many, 0 at the end. May throw.
  using Source = std::function<std::size_t(char* buffer, std::size_t size)>;

  explicit CsvReader(Source source);

  /// The next record's fields into `fields`; false at the end of the input. Throws
  /// InvalidInput("line N: …") for a quote left open at the end or text after a closing quote.
  bool next(std::vector<std::string>& fields);

  /// The line (1-based) the last record returned began on.
  std::int64_t line() const { return recordLine_; }

  /// Bytes consumed so far (for progress).
  std::uint64_t bytesRead() const { return consumed_; }

 private:
  bool fill();
  Source source_;
  std::vector<char> buffer_;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
  bool eof_ = false;
  bool first_ = true;
  std::int64_t lineNo_ = 1;
  std::int64_t recordLine_ = 0;
  std::uint64_t consumed_ = 0;
};

}  // namespace mp::importing
