// Written by hand after APPNOTE.TXT (sections 4.3 and 4.5): what an export needs of ZIP is
// streaming deflated entries, a few hundred lines of zlib calls and little-endian fields; the
// ZIP libraries in Debian (libzip, minizip) want a seekable file or the whole entry first.
#include "export/zip.hpp"

#include <zlib.h>

#include <ctime>
#include <stdexcept>

namespace mp::exporting {
namespace {

constexpr std::uint32_t kLocalHeader = 0x04034b50;
constexpr std::uint32_t kDataDescriptor = 0x08074b50;
constexpr std::uint32_t kCentralHeader = 0x02014b50;
constexpr std::uint32_t kEndOfCentralDirectory = 0x06054b50;
constexpr std::uint32_t kZip64End = 0x06064b50;
constexpr std::uint32_t kZip64Locator = 0x07064b50;
constexpr std::uint64_t k32 = 0xFFFFFFFFu;
// Bit 3: sizes and CRC follow the data; bit 11: the name is UTF-8.
constexpr std::uint16_t kFlags = (1u << 3) | (1u << 11);
constexpr std::uint16_t kDeflate = 8;
constexpr std::uint16_t kVersionZip64 = 45;
constexpr std::uint16_t kVersionDeflate = 20;
constexpr std::size_t kChunk = 64 * 1024;

void put16(std::string& out, std::uint16_t v) {
  out += static_cast<char>(v & 0xFF);
  out += static_cast<char>(v >> 8);
}
void put32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
std::uint32_t clip(std::uint64_t v) {
  return v >= k32 ? static_cast<std::uint32_t>(k32) : static_cast<std::uint32_t>(v);
}

z_stream* zs(void* p) {
  return static_cast<z_stream*>(p);
}

}  // namespace

ZipWriter::ZipWriter(Sink sink, std::int64_t modifiedMillis) : sink_(std::move(sink)) {
  const std::time_t t = static_cast<std::time_t>(modifiedMillis / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  const int year = tm.tm_year + 1900 < 1980 ? 1980 : tm.tm_year + 1900;
  dosTime_ = static_cast<std::uint16_t>((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
  dosDate_ = static_cast<std::uint16_t>(((year - 1980) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
  out_.resize(kChunk);
}

ZipWriter::~ZipWriter() {
  if (stream_ != nullptr) {
    deflateEnd(zs(stream_));
    delete zs(stream_);
  }
}

void ZipWriter::emit(std::string_view bytes) {
  if (bytes.empty()) return;
  sink_(bytes);
  offset_ += bytes.size();
}

void ZipWriter::begin(const std::string& name) {
  if (finished_) throw std::logic_error("ZipWriter: begin() after finish()");
  if (name.empty() || name.size() > 0xFFFF) throw std::invalid_argument("bad ZIP entry name");
  if (open_) endEntry();
  entries_.push_back({name, 0, 0, 0, offset_});
  std::string h;
  put32(h, kLocalHeader);
  put16(h, kVersionZip64);
  put16(h, kFlags);
  put16(h, kDeflate);
  put16(h, dosTime_);
  put16(h, dosDate_);
  put32(h, 0);  // CRC and sizes: in the data descriptor
  put32(h, 0);
  put32(h, 0);
  put16(h, static_cast<std::uint16_t>(name.size()));
  put16(h, 0);
  h += name;
  emit(h);
  auto* z = new z_stream{};
  if (deflateInit2(z, Z_BEST_SPEED, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    delete z;
    throw std::runtime_error("zlib: deflateInit2 failed");
  }
  stream_ = z;
  open_ = true;
}

void ZipWriter::deflateChunk(std::string_view data, int flush) {
  z_stream* z = zs(stream_);
  z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z->avail_in = static_cast<uInt>(data.size());
  for (;;) {
    z->next_out = reinterpret_cast<Bytef*>(out_.data());
    z->avail_out = static_cast<uInt>(out_.size());
    const int rc = deflate(z, flush);
    if (rc == Z_STREAM_ERROR) throw std::runtime_error("zlib: deflate failed");
    const std::size_t produced = out_.size() - z->avail_out;
    entries_.back().compressed += produced;
    emit(std::string_view(out_.data(), produced));
    if (flush == Z_FINISH ? rc == Z_STREAM_END : (z->avail_in == 0 && z->avail_out != 0)) break;
  }
}

void ZipWriter::write(std::string_view data) {
  if (!open_) throw std::logic_error("ZipWriter: write() outside an entry");
  while (!data.empty()) {
    // zlib counts in uInt: feed at most a chunk at a time.
    const auto piece = data.substr(0, std::min<std::size_t>(data.size(), 1u << 30));
    auto& e = entries_.back();
    e.crc = static_cast<std::uint32_t>(crc32(e.crc, reinterpret_cast<const Bytef*>(piece.data()),
                                             static_cast<uInt>(piece.size())));
    e.size += piece.size();
    deflateChunk(piece, Z_NO_FLUSH);
    data.remove_prefix(piece.size());
  }
}

void ZipWriter::endEntry() {
  deflateChunk({}, Z_FINISH);
  deflateEnd(zs(stream_));
  delete zs(stream_);
  stream_ = nullptr;
  open_ = false;
  const auto& e = entries_.back();
  std::string d;
  put32(d, kDataDescriptor);
  put32(d, e.crc);
  if (e.compressed >= k32 || e.size >= k32) {
    put64(d, e.compressed);
    put64(d, e.size);
  } else {
    put32(d, static_cast<std::uint32_t>(e.compressed));
    put32(d, static_cast<std::uint32_t>(e.size));
  }
  emit(d);
}

void ZipWriter::finish() {
  if (finished_) return;
  if (open_) endEntry();
  finished_ = true;
  const std::uint64_t cdStart = offset_;
  for (const auto& e : entries_) {
    const bool big = e.size >= k32 || e.compressed >= k32 || e.offset >= k32;
    std::string extra;
    if (big) {
      std::string fields;
      if (e.size >= k32) put64(fields, e.size);
      if (e.compressed >= k32) put64(fields, e.compressed);
      if (e.offset >= k32) put64(fields, e.offset);
      put16(extra, 0x0001);
      put16(extra, static_cast<std::uint16_t>(fields.size()));
      extra += fields;
    }
    std::string h;
    put32(h, kCentralHeader);
    put16(h, static_cast<std::uint16_t>((3u << 8) | kVersionZip64));  // made on Unix
    put16(h, big ? kVersionZip64 : kVersionDeflate);
    put16(h, kFlags);
    put16(h, kDeflate);
    put16(h, dosTime_);
    put16(h, dosDate_);
    put32(h, e.crc);
    put32(h, clip(e.compressed));
    put32(h, clip(e.size));
    put16(h, static_cast<std::uint16_t>(e.name.size()));
    put16(h, static_cast<std::uint16_t>(extra.size()));
    put16(h, 0);               // comment
    put16(h, 0);               // disk
    put16(h, 0);               // internal attributes
    put32(h, 0100644u << 16);  // -rw-r--r--
    put32(h, clip(e.offset));
    h += e.name;
    h += extra;
    emit(h);
  }
  const std::uint64_t cdSize = offset_ - cdStart;
  const std::uint64_t count = entries_.size();
  if (cdStart >= k32 || cdSize >= k32 || count >= 0xFFFF) {
    const std::uint64_t zip64End = offset_;
    std::string r;
    put32(r, kZip64End);
    put64(r, 44);
    put16(r, static_cast<std::uint16_t>((3u << 8) | kVersionZip64));
    put16(r, kVersionZip64);
    put32(r, 0);
    put32(r, 0);
    put64(r, count);
    put64(r, count);
    put64(r, cdSize);
    put64(r, cdStart);
    put32(r, kZip64Locator);
    put32(r, 0);
    put64(r, zip64End);
    put32(r, 1);
    emit(r);
  }
  std::string end;
  put32(end, kEndOfCentralDirectory);
  put16(end, 0);
  put16(end, 0);
  put16(end, static_cast<std::uint16_t>(count >= 0xFFFF ? 0xFFFF : count));
  put16(end, static_cast<std::uint16_t>(count >= 0xFFFF ? 0xFFFF : count));
  put32(end, clip(cdSize));
  put32(end, clip(cdStart));
  put16(end, 0);
  emit(end);
}

}  // namespace mp::exporting
