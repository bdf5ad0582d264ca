# shellcheck shell=bash
# The Debian 12 packages MetricPulse is built, tested and run with (the one list), and their
# installation. cmake/Dependencies.cmake finds these.

MP_PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates openssl curl
  # libraries (rapidjson-dev: libpistache.pc requires RapidJSON; libsystemd-dev: sd_notify)
  libpistache-dev rapidjson-dev libevent-dev libpq-dev libhiredis-dev libtomlplusplus-dev
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libssl-dev libcrypt-dev libjwt-dev
  libcurl4-openssl-dev zlib1g-dev libzip-dev uap-core libmaxminddb-dev libre2-dev libyaml-cpp-dev
  libsystemd-dev
  # data: referer-parser's list of search engines, social networks and webmail hosts
  ruby-referer-parser
  # tests and formatting (clang, libclang-rt-dev: libFuzzer and the sanitizers of tests/fuzz;
  # prometheus: promtool checks /metrics; systemd: systemd-analyze verifies the units; man-db,
  # groff-base: the manual pages are rendered and checked)
  libgtest-dev libgmock-dev clang-format clang libclang-rt-dev prometheus systemd man-db
  groff-base
  # services
  postgresql-15 postgresql-client-15 postgresql-15-hll redis-server redis-tools
)

# What only scripts/test and scripts/package need: the Debian package build and its checks
# (packaging/debian), the nginx the fleet test puts in front of two daemons, and the SMTP
# server the email report tests send to.
MP_TEST_PACKAGES=(debhelper dpkg-dev lintian nginx python3-aiosmtpd)

# missing_packages NAME...: prints the names that are not installed.
missing_packages() {
  local name status
  for name in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$name" 2>/dev/null || true)
    [[ $status == ii* ]] || printf '%s\n' "$name"
  done
}

# ensure_packages: installs what is missing (as root), or says what to do (as anyone else).
ensure_packages() {
  command -v dpkg-query >/dev/null ||
    die "dpkg-query not found: these scripts need Debian 12 (bookworm)"
  if [[ -r /etc/os-release ]] && ! grep -qx 'VERSION_CODENAME=bookworm' /etc/os-release; then
    warn "this is not Debian 12 (bookworm); the package names below are Debian 12's"
  fi
  local missing
  mapfile -t missing < <(missing_packages "${MP_PACKAGES[@]}")
  ((${#missing[@]} == 0)) && return 0

  if ((EUID != 0)); then
    die "${#missing[@]} Debian packages are missing: ${missing[*]}" \
      "run this script once as root (sudo $(rel "$MP_SELF")), which installs them, or:" \
      "sudo apt-get install --no-install-recommends ${missing[*]}"
  fi

  say "installing ${#missing[@]} packages: ${missing[*]}"
  apt_install "${missing[@]}"
  mapfile -t missing < <(missing_packages "${MP_PACKAGES[@]}")
  ((${#missing[@]} == 0)) || die "still not installed after apt-get install: ${missing[*]}"
  say "packages installed"
}

# apt_install PACKAGE...: apt-get update, then installs the packages without recommends (as
# root), waiting up to 5 minutes for another apt to finish. Its output goes to a log that is
# shown on failure and removed on success.
apt_install() {
  local log
  log=$(mktemp /tmp/metricpulse-apt.XXXXXX.log)
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get update -o DPkg::Lock::Timeout=300 >"$log" 2>&1; then
    show_log_tail "$log" 30
    die "apt-get update failed (log: $log)" "check that this machine reaches its Debian mirrors"
  fi
  if ! apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" >>"$log" 2>&1; then
    show_log_tail "$log" 30
    die "apt-get install $* failed (log: $log)"
  fi
  rm -f "$log"
}

# drop_to_sudo_user ARGS...: under `sudo`, once packages are in place, runs this script again as
# the user who called sudo when that user owns the checkout, so build/ and var/ stay theirs and
# the services run as them. Root stays root when the checkout (or an existing build/ or var/)
# is not that user's. MP_KEEP_ROOT=1 turns this off.
drop_to_sudo_user() {
  ((EUID == 0)) || return 0
  [[ -n ${SUDO_USER:-} && $SUDO_USER != root && -z ${MP_KEEP_ROOT:-} ]] || return 0
  id "$SUDO_USER" >/dev/null 2>&1 || return 0
  [[ $(file_owner "$MP_ROOT") == "$SUDO_USER" ]] || return 0
  local dir
  for dir in "$MP_VAR" "$MP_BUILD"; do
    if [[ -e $dir && $(file_owner "$dir") != "$SUDO_USER" ]]; then return 0; fi
  done
  local user=$SUDO_USER
  say "continuing as $user, who owns this checkout"
  unset SUDO_USER SUDO_UID SUDO_GID SUDO_COMMAND
  exec runuser -u "$user" -- "$MP_SELF" "$@"
}

# ensure_test_packages: installs what is missing of MP_TEST_PACKAGES (as root, or says what to
# do). Installing starts no service (a policy-rc.d for the duration), and an nginx installed here
# is left disabled, so a test run does not leave a web server on port 80.
ensure_test_packages() {
  local missing
  mapfile -t missing < <(missing_packages "${MP_TEST_PACKAGES[@]}")
  ((${#missing[@]} == 0)) && return 0
  if ((EUID != 0)); then
    die "the package and fleet tests need ${#missing[@]} more Debian packages: ${missing[*]}" \
      "run this script once as root (sudo $(rel "$MP_SELF")), which installs them, or:" \
      "sudo apt-get install --no-install-recommends ${missing[*]}"
  fi
  say "installing ${#missing[@]} packages for the package and fleet tests: ${missing[*]}"
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# scripts/test: start no service while installing test tools\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    own_policy=1
  fi
  local status=0
  (apt_install "${missing[@]}") || status=$?
  ((own_policy)) && rm -f "$policy"
  ((status == 0)) || exit "$status"
  if [[ " ${missing[*]} " == *" nginx "* && -d /run/systemd/system ]]; then
    systemctl disable nginx >/dev/null 2>&1 || true
  fi
  mapfile -t missing < <(missing_packages "${MP_TEST_PACKAGES[@]}")
  ((${#missing[@]} == 0)) || die "still not installed after apt-get install: ${missing[*]}"
}
