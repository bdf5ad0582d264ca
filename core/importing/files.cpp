// A ZIP is read through libzip (stored and deflated members, ZIP64); a directory or a single
// file through std::ifstream.
#include "importing/files.hpp"

#include <openssl/evp.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "util/error.hpp"

namespace mp::importing {

namespace fs = std::filesystem;

struct InputFiles::Impl {
  std::string path;
  zip_t* archive = nullptr;
  bool directory = false;
  std::vector<std::pair<std::string, zip_uint64_t>> zipIndex;  // name → entry index
};

namespace {

std::string baseName(const std::string& name) {
  const auto slash = name.find_last_of('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

bool looksLikeZip(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && std::memcmp(magic, "PK\x03\x04", 4) == 0;
}

}  // namespace

InputFiles::InputFiles(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    throw InvalidInput("input", path + ": no such file or directory");
  }
  if (fs::is_directory(status)) {
    impl_->directory = true;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      if (!entry.is_regular_file()) continue;
      files_.push_back({entry.path().filename().string(), entry.file_size()});
    }
    if (ec) throw InvalidInput("input", path + ": " + ec.message());
  } else if (looksLikeZip(path)) {
    int error = 0;
    impl_->archive = zip_open(path.c_str(), ZIP_RDONLY, &error);
    if (!impl_->archive) {
      zip_error_t z;
      zip_error_init_with_code(&z, error);
      const std::string why = zip_error_strerror(&z);
      zip_error_fini(&z);
      throw InvalidInput("input", path + ": not a readable ZIP archive: " + why);
    }
    const zip_int64_t n = zip_get_num_entries(impl_->archive, 0);
    for (zip_int64_t i = 0; i < n; ++i) {
      zip_stat_t st;
      if (zip_stat_index(impl_->archive, static_cast<zip_uint64_t>(i), 0, &st) != 0) continue;
      const std::string name = st.name ? st.name : "";
      if (name.empty() || name.back() == '/') continue;  // a directory entry
      const std::string base = baseName(name);
      if (base.empty() || base.rfind("__MACOSX", 0) == 0 || base.front() == '.') continue;
      files_.push_back({base, st.size});
      impl_->zipIndex.emplace_back(base, static_cast<zip_uint64_t>(i));
    }
  } else {
    files_.push_back({fs::path(path).filename().string(), fs::file_size(path, ec)});
  }
  std::sort(files_.begin(), files_.end(),
            [](const InputFile& a, const InputFile& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < files_.size(); ++i) {
    if (files_[i].name == files_[i - 1].name) {
      throw InvalidInput("input", path + " holds two files named " + files_[i].name);
    }
  }
}

InputFiles::~InputFiles() {
  if (impl_ && impl_->archive) zip_discard(impl_->archive);
}

std::uint64_t InputFiles::totalBytes() const {
  std::uint64_t total = 0;
  for (const auto& f : files_) total += f.size;
  return total;
}

CsvReader::Source InputFiles::open(const std::string& name) {
  if (impl_->archive) {
    const auto it = std::find_if(impl_->zipIndex.begin(), impl_->zipIndex.end(),
                                 [&name](const auto& e) { return e.first == name; });
    if (it == impl_->zipIndex.end()) throw InvalidInput("input", "no file " + name);
    zip_file_t* file = zip_fopen_index(impl_->archive, it->second, 0);
    if (!file) {
      throw InvalidInput("input", name + ": " + zip_strerror(impl_->archive));
    }
    auto handle = std::shared_ptr<zip_file_t>(file, [](zip_file_t* f) { zip_fclose(f); });
    return [handle, name](char* buffer, std::size_t size) -> std::size_t {
      const zip_int64_t n = zip_fread(handle.get(), buffer, size);
      if (n < 0) {
        throw InvalidInput("input", name + ": " + zip_file_strerror(handle.get()));
      }
      return static_cast<std::size_t>(n);
    };
  }
  const std::string full = impl_->directory ? (fs::path(impl_->path) / name).string() : impl_->path;
  auto in = std::make_shared<std::ifstream>(full, std::ios::binary);
  if (!*in) throw InvalidInput("input", full + ": " + std::strerror(errno));
  return [in, full](char* buffer, std::size_t size) -> std::size_t {
    in->read(buffer, static_cast<std::streamsize>(size));
    if (in->bad()) throw InvalidInput("input", full + ": read error");
    return static_cast<std::size_t>(in->gcount());
  };
}

std::string InputFiles::sha256() {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buffer(256 * 1024);
  for (const auto& f : files_) {
    EVP_DigestUpdate(ctx.get(), f.name.data(), f.name.size() + 1);  // with its NUL: a separator
    auto source = open(f.name);
    for (std::size_t n; (n = source(buffer.data(), buffer.size())) > 0;) {
      EVP_DigestUpdate(ctx.get(), buffer.data(), n);
    }
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

}  // namespace mp::importing
