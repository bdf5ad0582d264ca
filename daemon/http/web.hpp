// The dashboard and the tracker script: files of web.root read once at start, each served with
// an ETag, a gzip variant made at load and the headers a browser needs (caching, CSP).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "http/router.hpp"

namespace mp::daemon {
struct Services;
}

namespace mp::http {

/// One file as it is served.
struct WebFile {
  std::string body;         ///< the bytes as stored
  std::string gzip;         ///< the same, gzip-compressed (empty when that is not smaller)
  std::string etag;         ///< strong ETag of `body` (quoted); the gzip variant appends -gz
  std::string contentType;  ///< by file extension
};

/// The files of web.root: dashboard/ (flat, its index.html the page of / and /share/{token})
/// and tracker.js.
class WebAssets {
 public:
  /// Reads `root`; a missing root or file leaves that part unserved (logged, not an error, so a
  /// daemon without the web files still serves the API). Throws nothing.
  static std::shared_ptr<const WebAssets> load(const std::filesystem::path& root);

  const WebFile* tracker() const { return tracker_ ? &*tracker_ : nullptr; }
  const WebFile* page() const { return file("index.html"); }
  /// A file of dashboard/ by name, or null.
  const WebFile* file(const std::string& name) const;

  /// A file's variant: gzip (made at load, a few bytes of header added) when smaller.
  static WebFile make(std::string body, const std::string& name);

 private:
  std::optional<WebFile> tracker_;
  std::map<std::string, WebFile, std::less<>> files_;
};

/// Whether `name` is one of the names the tracker is served under besides `trackerPath` itself:
/// Plausible's extension names in the same folder (script.outbound-links.hash.js for
/// /js/script.js).
bool isTrackerVariant(const std::string& trackerPath, const std::string& path);

/// Registers /, /app/{file}, /share/{token}, the tracker's paths and GET /ui/config.
void addWebRoutes(Router& router, std::shared_ptr<daemon::Services> services,
                  std::shared_ptr<const WebAssets> assets);

}  // namespace mp::http
