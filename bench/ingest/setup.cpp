// mp_bench_ingest_setup: prepares a fresh database for bench/ingest. Applies the migrations,
// creates one owner and N websites (site1.bench.test … siteN.bench.test) and writes their ids,
// one a line in site order, to OUTFILE (read by track.lua).
//
// usage: mp_bench_ingest_setup DATABASE_URL OUTFILE [N]   (N defaults to 100)
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>

#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "sites/sites.hpp"
#include "users/users.hpp"

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: %s DATABASE_URL OUTFILE [N]\n", argv[0]);
    return 2;
  }
  const std::string url = argv[1];
  const std::string outFile = argv[2];
  const int n = argc > 3 ? std::atoi(argv[3]) : 100;
  if (n < 1 || n > 100000) {
    std::fprintf(stderr, "mp_bench_ingest_setup: N must be 1 to 100000\n");
    return 2;
  }
  try {
    mp::db::Connection conn(url, std::chrono::seconds(10));
    mp::db::Migrator(conn).migrate();
    // bcrypt cost 4: the owner never logs in during the bench.
    const auto owner = mp::users::create(conn, "owner@bench.test", "bench-password", 4);
    std::ofstream out(outFile, std::ios::trunc);
    for (int i = 1; i <= n; ++i) {
      const std::string domain = "site" + std::to_string(i) + ".bench.test";
      const auto site = mp::sites::create(conn, owner.id, "Bench site " + std::to_string(i), domain);
      out << site.id << '\n';
    }
    out.close();
    if (!out) {
      std::fprintf(stderr, "mp_bench_ingest_setup: cannot write %s\n", outFile.c_str());
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mp_bench_ingest_setup: %s\n", e.what());
    return 1;
  }
  std::printf("created %d websites (site1.bench.test … site%d.bench.test), ids in %s\n", n, n,
              outFile.c_str());
  return 0;
}
