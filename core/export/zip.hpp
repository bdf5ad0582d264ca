// A ZIP archive written front to back into a sink, one entry at a time, never held in memory:
// each entry is deflated as it comes and followed by a data descriptor (its CRC and sizes), and
// the central directory goes at the end (ZIP64 records where an entry or the archive passes
// 4 GiB, as unzip, Python and the usual archive tools read them).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mp::exporting {

class ZipWriter {
 public:
  /// Where the bytes go, in order; it may throw, which ends the archive.
  using Sink = std::function<void(std::string_view)>;

  /// `modifiedMillis`: the entries' time (epoch milliseconds, stored as UTC).
  ZipWriter(Sink sink, std::int64_t modifiedMillis);
  ~ZipWriter();
  ZipWriter(const ZipWriter&) = delete;
  ZipWriter& operator=(const ZipWriter&) = delete;

  /// Starts an entry (ends the one before); `name` is UTF-8, '/' separated.
  void begin(const std::string& name);
  /// Appends to the current entry.
  void write(std::string_view data);
  /// Ends the last entry and writes the central directory. Nothing may follow.
  void finish();

  /// Bytes given to the sink so far.
  std::uint64_t written() const { return offset_; }

 private:
  struct Entry {
    std::string name;
    std::uint32_t crc = 0;
    std::uint64_t compressed = 0;
    std::uint64_t size = 0;
    std::uint64_t offset = 0;
  };
  void endEntry();
  void emit(std::string_view bytes);
  void deflateChunk(std::string_view data, int flush);

  Sink sink_;
  std::uint16_t dosTime_ = 0;
  std::uint16_t dosDate_ = 0;
  std::uint64_t offset_ = 0;
  std::vector<Entry> entries_;
  bool open_ = false;
  bool finished_ = false;
  void* stream_ = nullptr;  // z_stream of the open entry
  std::string out_;         // deflate's output buffer
};

}  // namespace mp::exporting
