# Every dependency comes from Debian's packages; see scripts/lib/deps.sh for the list.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(nlohmann_json REQUIRED)
# Debian 12's yaml-cpp 0.7 exports a plain `yaml-cpp` target (no namespace).
find_package(yaml-cpp REQUIRED)

pkg_check_modules(PISTACHE REQUIRED IMPORTED_TARGET libpistache)
pkg_check_modules(LIBEVENT REQUIRED IMPORTED_TARGET libevent_core libevent_pthreads)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
pkg_check_modules(LIBCRYPT REQUIRED IMPORTED_TARGET libcrypt)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
pkg_check_modules(MAXMINDDB REQUIRED IMPORTED_TARGET libmaxminddb)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
# Reading the ZIP archives mpctl import is given.
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
# sd_notify(3) for metricpulsed's readiness and watchdog; the daemon's targets alone link it.
pkg_check_modules(LIBSYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
# SMTP for the email reports (mp_core), and the tests' HTTP client.
pkg_check_modules(LIBCURL REQUIRED IMPORTED_TARGET libcurl)

if(MP_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
