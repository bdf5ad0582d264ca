// The archive is written to a temporary file first and then sent with sendfile(2): an export
// that fails answers with the API's error shape instead of a cut-off download, and the daemon
// never holds the archive in memory (Pistache queues every write of a streamed answer without
// waiting for the client). Pistache opens the file by name once the headers are out, so it is
// removed when the sending is over (or has failed); under systemd it lies in the unit's
// PrivateTmp, which a restart empties.
#include "http/export.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "export/export.hpp"
#include "http/common.hpp"
#include "http/response.hpp"
#include "log/log.hpp"
#include "services.hpp"
#include "sites/sites.hpp"
#include "stats/v2.hpp"
#include "util/error.hpp"
#include "util/time.hpp"
#include "util/uuid.hpp"

namespace mp::http {
namespace Http = Pistache::Http;

namespace {

std::optional<std::string> param(const Http::Request& request, const char* name) {
  auto raw = request.query().get(name);
  if (!raw || raw->empty()) return std::nullopt;
  return *raw;
}

std::chrono::sys_days dateParam(const std::string& text, const char* name) {
  const auto d = util::parseDate(text);
  if (!d) throw InvalidInput(name, "must be a date, YYYY-MM-DD");
  return *d;
}

}  // namespace

void addExportRoutes(Router& router, std::shared_ptr<daemon::Services> services) {
  router.add(
      Http::Method::Get, "/websites/{id}/export",
      [services](const Http::Request& request, const RouteParams& params,
                 Http::ResponseWriter& response) {
        // The owner only: a share link reads stats, it does not take the data away.
        const auth::Claims claims = requireToken(request, *services);
        auto id = util::canonicalUuid(params.get("id"));
        if (!id) throw NotFound("no such website");
        const auto from = param(request, "from");
        const auto to = param(request, "to");
        std::optional<std::chrono::sys_days> fromDay, toDay;
        if (from) fromDay = dateParam(*from, "from");
        if (to) toDay = dateParam(*to, "to");
        offload(
            *services, response, "GET /websites/{id}/export",
            [services, claims, id = *id, fromDay, toDay](Http::ResponseWriter& rw) {
              requireLiveAccount(*services, claims);
              auto conn = services->db.acquire();
              const auto site = sites::findOwned(*conn, claims.sub, id);
              if (!site) throw NotFound("no such website");
              const auto today = services->localDays.today(*conn, site->timeZone);
              exporting::ExportOptions options;
              options.range.to = toDay.value_or(today);
              // By default everything: from the website's first day with data.
              options.range.from = fromDay.value_or(
                  stats::v2::startDay(*conn,
                                      stats::v2::Site{site->id, site->domain, site->timeZone})
                      .value_or(options.range.to));
              if (!fromDay && options.range.from > options.range.to) {
                options.range.from = options.range.to;
              }
              char path[] = "/tmp/metricpulse-export-XXXXXX";
              const int fd = mkstemp(path);
              if (fd < 0) {
                throw Error(std::string("cannot make a temporary file: ") + std::strerror(errno));
              }
              const std::string name = path;
              // Removed on every path but a successful hand-over to serveFile.
              struct Cleanup {
                int fd;
                std::string name;
                bool keep = false;
                ~Cleanup() {
                  ::close(fd);
                  if (!keep) ::unlink(name.c_str());
                }
              } cleanup{fd, name};
              exporting::ZipWriter zip(
                  [fd](std::string_view bytes) {
                    while (!bytes.empty()) {
                      const ssize_t n = ::write(fd, bytes.data(), bytes.size());
                      if (n < 0 && errno == EINTR) continue;
                      if (n <= 0) {
                        throw Error(std::string("cannot write the export: ") +
                                    std::strerror(errno));
                      }
                      bytes.remove_prefix(static_cast<std::size_t>(n));
                    }
                  },
                  util::nowMillis());
              const auto summary = exporting::writeExport(*conn, *site, options, zip);
              conn.release();
              const std::string filename = exporting::archiveName(site->domain, today);
              addHeader(rw, "Content-Disposition", "attachment; filename=\"" + filename + "\"");
              addHeader(rw, "Cache-Control", "no-store");
              log::get("http")->info("export website={} from={} to={} files={} rows={} bytes={}",
                                     site->id, util::formatDate(options.range.from),
                                     util::formatDate(options.range.to), summary.files.size(),
                                     summary.rows, zip.written());
              cleanup.keep = true;
              try {
                Http::serveFile(rw, name, Http::Mime::MediaType::fromString("application/zip"))
                    .then([name](ssize_t) { ::unlink(name.c_str()); },
                          [name](std::exception_ptr&) { ::unlink(name.c_str()); });
              } catch (...) {
                ::unlink(name.c_str());
                throw;
              }
            });
      });
}

}  // namespace mp::http
