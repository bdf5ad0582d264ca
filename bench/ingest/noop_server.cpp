// The no-op baseline of bench/ingest: a Pistache endpoint built with the same options as
// metricpulsed's (daemon/server.cpp: worker threads, ReuseAddr, backlog 1024, request and
// response size limits) that answers POST /track with 202 {"ok":true} and
// Access-Control-Allow-Origin: * and does nothing else. What /track achieves is compared with
// what this achieves on the same machine, threads and wrk settings.
//
// usage: mp_bench_noop PORT [THREADS]   (listens on 127.0.0.1 only; THREADS defaults to 2)
// SIGINT or SIGTERM stops it.
#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/net.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

namespace Http = Pistache::Http;

// As the daemon: the default http.max_body_bytes plus its header allowance.
constexpr std::size_t kMaxBodyBytes = 16384;
constexpr std::size_t kHeaderAllowance = 16 * 1024;

const Http::Mime::MediaType& jsonType() {
  static const auto kType = Http::Mime::MediaType::fromString("application/json; charset=utf-8");
  return kType;
}

class NoopHandler : public Http::Handler {
 public:
  HTTP_PROTOTYPE(NoopHandler)

  void onRequest(const Http::Request& request, Http::ResponseWriter response) override {
    if (request.method() == Http::Method::Post && request.resource() == "/track") {
      response.headers().add<Http::Header::AccessControlAllowOrigin>("*");
      response.send(Http::Code::Accepted, R"({"ok":true})", jsonType());
      return;
    }
    if (request.method() == Http::Method::Get && request.resource() == "/healthz") {
      response.send(Http::Code::Ok, R"({"status":"ok"})", jsonType());
      return;
    }
    response.send(Http::Code::Not_Found, R"({"error":{"code":"not_found"}})", jsonType());
  }
};

int parseInt(const char* text, int min, int max, const char* what) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < min || value > max) {
    std::fprintf(stderr, "mp_bench_noop: %s must be %d to %d, not '%s'\n", what, min, max, text);
    std::exit(2);
  }
  return static_cast<int>(value);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s PORT [THREADS]\n", argv[0]);
    return 2;
  }
  const int port = parseInt(argv[1], 1, 65535, "PORT");
  const int threads = argc > 2 ? parseInt(argv[2], 1, 256, "THREADS") : 2;

  // As the daemon: signals are taken by sigwait in the main thread; workers inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  Pistache::Address addr("127.0.0.1", Pistache::Port(static_cast<std::uint16_t>(port)));
  Http::Endpoint endpoint(addr);
  auto opts = Http::Endpoint::options()
                  .threads(threads)
                  .threadsName("mp-http")
                  .flags(Pistache::Tcp::Options::ReuseAddr)
                  .backlog(1024)
                  .maxRequestSize(kMaxBodyBytes + kHeaderAllowance)
                  .maxResponseSize(4 * 1024 * 1024);
  endpoint.init(opts);
  endpoint.setHandler(Http::make_handler<NoopHandler>());
  try {
    endpoint.serveThreaded();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mp_bench_noop: cannot listen on 127.0.0.1:%d: %s\n", port, e.what());
    return 1;
  }
  std::fprintf(stderr, "mp_bench_noop: listening on http://127.0.0.1:%d with %d threads\n", port,
               threads);

  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  endpoint.shutdown();
  return 0;
}
