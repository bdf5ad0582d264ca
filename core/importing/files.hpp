// The files an import reads: a ZIP archive (libzip), a directory, or one CSV file, listed by
// name and read as byte streams; and the SHA-256 that identifies the whole input.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "importing/csv.hpp"

namespace mp::importing {

/// One file of the input.
struct InputFile {
  std::string name;  ///< its name without directories ("imported_visitors_20240101_….csv")
  std::uint64_t size = 0;
};

class InputFiles {
 public:
  /// Opens `path`: a .zip archive, a directory (its regular files, not recursively) or one
  /// file. Throws InvalidInput when it cannot be opened or read (the reason named).
  explicit InputFiles(const std::string& path);
  ~InputFiles();
  InputFiles(const InputFiles&) = delete;
  InputFiles& operator=(const InputFiles&) = delete;

  /// The files, sorted by name.
  const std::vector<InputFile>& files() const { return files_; }

  /// Total bytes of all files (uncompressed).
  std::uint64_t totalBytes() const;

  /// A byte source reading the file `name` from its start. Throws InvalidInput.
  CsvReader::Source open(const std::string& name);

  /// Hex SHA-256 over every file's name and bytes, in name order: the same input gives the same
  /// digest whether zipped or not. Reads everything once. Throws InvalidInput.
  std::string sha256();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<InputFile> files_;
};

}  // namespace mp::importing
