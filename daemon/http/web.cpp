// Serving the dashboard and the tracker script from memory.
#include "http/web.hpp"

#include <openssl/evp.h>
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "config/config.hpp"
#include "http/common.hpp"
#include "http/response.hpp"
#include "log/log.hpp"
#include "services.hpp"
#include "sites/shares.hpp"

namespace mp::http {
namespace Http = Pistache::Http;
namespace fs = std::filesystem;

namespace {

// Every dashboard page: scripts and styles only from this server, no framing, and the live
// feed's own port allowed for WebSocket connections.
const std::string kPagePolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'";

// Larger files are not what the web folder is for; they are skipped with a log line.
constexpr std::uintmax_t kMaxFileBytes = 8 * 1024 * 1024;

std::string contentTypeOf(const std::string& name) {
  const auto dot = name.rfind('.');
  const std::string ext = dot == std::string::npos ? "" : name.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "ico") return "image/x-icon";
  if (ext == "json") return "application/json; charset=utf-8";
  if (ext == "woff2") return "font/woff2";
  if (ext == "txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

bool compressible(const std::string& contentType) {
  return contentType.rfind("text/", 0) == 0 || contentType.rfind("application/json", 0) == 0 ||
         contentType == "image/svg+xml";
}

std::string gzipOf(const std::string& data) {
  z_stream zs{};
  // 15 + 16: a gzip wrapper (header with no name and mtime 0, so the bytes depend on the input
  // alone), best compression: it is done once per file at start.
  if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const auto written = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return {};
  out.resize(written);
  return out;
}

std::string etagOf(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1) return {};
  static const char* kHex = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned int i = 0; i < 12 && i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out + "\"";
}

std::optional<std::string> readFile(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec || size > kMaxFileBytes) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool servableName(const std::string& name) {
  if (name.empty() || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
  });
}

// Whether the client takes gzip: named in Accept-Encoding and not with q=0.
bool acceptsGzip(const Http::Request& request) {
  auto accept = header(request, "Accept-Encoding");
  if (!accept) return false;
  std::string value = *accept;
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::size_t pos = 0;
  while (pos < value.size()) {
    auto comma = value.find(',', pos);
    if (comma == std::string::npos) comma = value.size();
    std::string item = value.substr(pos, comma - pos);
    pos = comma + 1;
    item.erase(std::remove(item.begin(), item.end(), ' '), item.end());
    const auto semi = item.find(';');
    const std::string coding = item.substr(0, semi);
    if (coding != "gzip" && coding != "*") continue;
    if (semi != std::string::npos) {
      const std::string params = item.substr(semi + 1);
      if (params == "q=0" || params == "q=0.0" || params == "q=0.00" || params == "q=0.000") {
        return false;
      }
    }
    return true;
  }
  return false;
}

enum class Kind { kPage, kAsset, kTracker };

// Sends a file (its gzip variant when `gzip` and there is one) with its headers; 304 when
// `ifNoneMatch` names its ETag.
void sendFile(Http::ResponseWriter& response, const WebFile& file, Kind kind, bool gzip,
              const std::optional<std::string>& ifNoneMatch, Http::Code status) {
  gzip = gzip && !file.gzip.empty();
  const std::string etag = gzip ? file.etag.substr(0, file.etag.size() - 1) + "-gz\"" : file.etag;
  addHeader(response, "ETag", etag);
  if (!file.gzip.empty()) addHeader(response, "Vary", "Accept-Encoding");
  addHeader(response, "X-Content-Type-Options", "nosniff");
  if (kind == Kind::kTracker) {
    // Fetched by every page of every tracked site: cached for a day, then revalidated by ETag.
    addHeader(response, "Cache-Control", "public, max-age=86400, must-revalidate");
    addHeader(response, "Access-Control-Allow-Origin", "*");
    addHeader(response, "Cross-Origin-Resource-Policy", "cross-origin");
  } else {
    // The dashboard's names carry no version: always revalidated, a 304 when unchanged.
    addHeader(response, "Cache-Control", "no-cache");
    addHeader(response, "Referrer-Policy", "no-referrer");
  }
  if (kind == Kind::kPage) {
    addHeader(response, "Content-Security-Policy", kPagePolicy);
    addHeader(response, "X-Frame-Options", "DENY");
  }
  if (ifNoneMatch && status == Http::Code::Ok &&
      (ifNoneMatch->find(etag) != std::string::npos || *ifNoneMatch == "*")) {
    response.send(Http::Code::Not_Modified);
    return;
  }
  addHeader(response, "Content-Type", file.contentType);
  if (gzip) addHeader(response, "Content-Encoding", "gzip");
  response.send(status, gzip ? file.gzip : file.body);
}

void serve(const Http::Request& request, Http::ResponseWriter& response, const WebFile& file,
           Kind kind, Http::Code status = Http::Code::Ok) {
  sendFile(response, file, kind, acceptsGzip(request), header(request, "If-None-Match"), status);
}

void sendPage(Http::ResponseWriter& response, const WebFile& file, bool gzip, Http::Code status) {
  sendFile(response, file, Kind::kPage, gzip, std::nullopt, status);
}

void notInstalled(Http::ResponseWriter& response, const std::string& what) {
  sendError(response, Http::Code::Not_Found, "not_found",
            what + " is not installed on this server (see web.root in its configuration)");
}

// The host of the Host header, without its port ("[::1]" kept in brackets).
std::string requestHost(const Http::Request& request) {
  auto host = header(request, "Host").value_or("localhost");
  if (!host.empty() && host.front() == '[') return host.substr(0, host.find(']') + 1);
  return host.substr(0, host.find(':'));
}

}  // namespace

WebFile WebAssets::make(std::string body, const std::string& name) {
  WebFile file;
  file.contentType = contentTypeOf(name);
  file.etag = etagOf(body);
  if (compressible(file.contentType)) {
    std::string gz = gzipOf(body);
    if (!gz.empty() && gz.size() < body.size()) file.gzip = std::move(gz);
  }
  file.body = std::move(body);
  return file;
}

std::shared_ptr<const WebAssets> WebAssets::load(const fs::path& root) {
  auto assets = std::make_shared<WebAssets>();
  if (root.empty()) return assets;
  auto logger = log::get("http");
  if (auto tracker = readFile(root / "tracker.js")) {
    assets->tracker_ = make(std::move(*tracker), "tracker.js");
  } else {
    logger->warn("no tracker script at {}: the tracker is not served",
                 (root / "tracker.js").string());
  }
  std::error_code ec;
  fs::directory_iterator it(root / "dashboard", ec);
  if (ec) {
    logger->warn("no dashboard at {}: / answers 404", (root / "dashboard").string());
    return assets;
  }
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file(ec) || !servableName(name)) continue;
    if (auto body = readFile(entry.path())) {
      assets->files_.emplace(name, make(std::move(*body), name));
    } else {
      logger->warn("{} is unreadable or larger than {} bytes: not served", entry.path().string(),
                   kMaxFileBytes);
    }
  }
  if (!assets->page())
    logger->warn("no {}: / answers 404", (root / "dashboard/index.html").string());
  return assets;
}

const WebFile* WebAssets::file(const std::string& name) const {
  auto it = files_.find(name);
  return it == files_.end() ? nullptr : &it->second;
}

bool isTrackerVariant(const std::string& trackerPath, const std::string& path) {
  const auto slash = trackerPath.rfind('/');
  const auto dot = trackerPath.rfind('.');
  if (dot == std::string::npos || dot < slash) return false;
  const std::string stem = trackerPath.substr(0, dot) + ".";  // "/js/script."
  const std::string ext = trackerPath.substr(dot);            // ".js"
  if (path.size() <= stem.size() + ext.size() || path.rfind(stem, 0) != 0 ||
      path.compare(path.size() - ext.size(), ext.size(), ext) != 0) {
    return false;
  }
  const std::string names = path.substr(stem.size(), path.size() - stem.size() - ext.size());
  if (names.front() == '.' || names.back() == '.' || names.find("..") != std::string::npos) {
    return false;
  }
  return std::all_of(names.begin(), names.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  });
}

void addWebRoutes(Router& router, std::shared_ptr<daemon::Services> services,
                  std::shared_ptr<const WebAssets> assets) {
  auto page = [assets](const Http::Request& request, const RouteParams&,
                       Http::ResponseWriter& response) {
    if (const auto* file = assets->page()) return serve(request, response, *file, Kind::kPage);
    notInstalled(response, "the dashboard");
  };
  router.add(Http::Method::Get, "/", page);
  // The same page; a link that does not exist (any more) is answered 404 with it, whose script
  // then says so.
  router.add(Http::Method::Get, "/share/{token}",
             [services, assets](const Http::Request& request, const RouteParams& params,
                                Http::ResponseWriter& response) {
               const auto* file = assets->page();
               if (!file) return notInstalled(response, "the dashboard");
               const std::string token = params.get("token");
               if (!sites::isShareToken(token)) {
                 return serve(request, response, *file, Kind::kPage, Http::Code::Not_Found);
               }
               // The request is needed on the blocking pool for its headers: what serve() reads
               // of it is taken here.
               const bool gzip = acceptsGzip(request);
               offload(*services, response, "GET /share/{token}",
                       [services, file, token, gzip](Http::ResponseWriter& rw) {
                         auto conn = services->db.acquire();
                         const bool known = sites::findShare(*conn, token).has_value();
                         sendPage(rw, *file, gzip, known ? Http::Code::Ok : Http::Code::Not_Found);
                       });
             });
  router.add(Http::Method::Get, "/app/{file}",
             [assets](const Http::Request& request, const RouteParams& params,
                      Http::ResponseWriter& response) {
               const std::string name = params.get("file");
               const auto* file = servableName(name) ? assets->file(name) : nullptr;
               if (!file) {
                 sendError(response, Http::Code::Not_Found, "not_found",
                           "no such file: /app/" + name);
                 return;
               }
               serve(request, response, *file,
                     name.size() > 5 && name.substr(name.size() - 5) == ".html" ? Kind::kPage
                                                                                : Kind::kAsset);
             });

  const std::string trackerPath = services ? services->config.web.trackerPath
                                           : config::Config::defaults().web.trackerPath;
  auto tracker = [assets, trackerPath](const Http::Request& request, const RouteParams&,
                                       Http::ResponseWriter& response) {
    const std::string path = request.resource();
    if (path != trackerPath && path != "/script.js" && !isTrackerVariant(trackerPath, path)) {
      sendError(response, Http::Code::Not_Found, "not_found", "no such endpoint: " + path);
      return;
    }
    if (const auto* file = assets->tracker())
      return serve(request, response, *file, Kind::kTracker);
    notInstalled(response, "the tracker script");
  };
  router.add(Http::Method::Get, trackerPath, tracker);
  if (trackerPath != "/script.js") router.add(Http::Method::Get, "/script.js", tracker);
  // Plausible's snippets name their extensions in the file name; they are served the same
  // script, which reads them from its own src.
  const auto folder = trackerPath.substr(0, trackerPath.rfind('/'));
  if (!folder.empty()) router.add(Http::Method::Get, folder + "/{file}", tracker);

  router.add(
      Http::Method::Get, "/ui/config",
      [services, trackerPath](const Http::Request& request, const RouteParams&,
                              Http::ResponseWriter& response) {
        const auto& cfg = services->config;
        const bool https = viaHttps(request, cfg.http);
        std::string wsUrl = cfg.web.wsUrl;
        if (wsUrl.empty()) {
          std::string host;
          int port = 0;
          config::splitHostPort(cfg.websocket.listen, host, port);
          wsUrl = std::string(https ? "wss://" : "ws://") + requestHost(request) + ":" +
                  std::to_string(port) + "/ws";
        }
        const std::string origin = std::string(https ? "https://" : "http://") +
                                   header(request, "Host").value_or("localhost");
        addHeader(response, "Cache-Control", "no-cache");
        sendJson(response, Http::Code::Ok,
                 {{"wsUrl", wsUrl}, {"trackerUrl", origin + trackerPath}, {"version", MP_VERSION}});
      });
}

}  // namespace mp::http
