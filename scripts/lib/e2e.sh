# shellcheck shell=bash
# What the browser tests (tests/e2e) need: Debian's Chromium, Node.js with npm, and the npm
# packages pinned in tests/e2e/package-lock.json. Sourced after common.sh and deps.sh.

MP_E2E_DIR="$MP_ROOT/tests/e2e"

# ensure_e2e_packages: installs the Debian packages that are missing (as root; chromium, and
# nodejs and npm when there is no node). Nothing with MP_SKIP_BROWSER_TESTS=1.
ensure_e2e_packages() {
  [[ ${MP_SKIP_BROWSER_TESTS:-} == 1 ]] && return 0
  local missing=()
  mapfile -t missing < <(missing_packages chromium)
  if ! command -v node >/dev/null; then
    missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
  elif ! command -v npm >/dev/null; then
    die "node is installed ($(command -v node)), but npm is not" \
      "install the npm that goes with that node, or remove it and run this script again as root"
  fi

  if ((${#missing[@]} > 0)); then
    if ((EUID != 0)); then
      die "the browser tests need ${#missing[@]} more Debian packages: ${missing[*]}" \
        "run this script once as root (sudo $(rel "$MP_SELF")), which installs them, or:" \
        "sudo apt-get install --no-install-recommends ${missing[*]}" \
        "(MP_SKIP_BROWSER_TESTS=1 skips the browser tests)"
    fi
    say "installing ${#missing[@]} packages for the browser tests: ${missing[*]}"
    apt_install "${missing[@]}"
    command -v node >/dev/null || die "node is still missing after installing nodejs"
  fi
}

# ensure_e2e_modules: runs `npm ci` in tests/e2e when node_modules is missing or older than
# package-lock.json (as the checkout's owner, after drop_to_sudo_user). Nothing with
# MP_SKIP_BROWSER_TESTS=1.
ensure_e2e_modules() {
  [[ ${MP_SKIP_BROWSER_TESTS:-} == 1 ]] && return 0
  local log
  # npm ci writes node_modules/.package-lock.json last: its age is that of the installation.
  local lock="$MP_E2E_DIR/package-lock.json" stamp="$MP_E2E_DIR/node_modules/.package-lock.json"
  if [[ ! -e $stamp || $lock -nt $stamp ]]; then
    say "installing the npm packages of $(rel "$MP_E2E_DIR") (npm ci)"
    log=$(mktemp /tmp/metricpulse-npm.XXXXXX.log)
    if ! (cd "$MP_E2E_DIR" && npm ci --no-audit --no-fund) >"$log" 2>&1; then
      show_log_tail "$log" 30
      die "npm ci in $(rel "$MP_E2E_DIR") failed (log: $log)" \
        "check that this machine reaches the npm registry; MP_SKIP_BROWSER_TESTS=1 skips the browser tests"
    fi
    rm -f "$log"
    note "npm packages installed in $(rel "$MP_E2E_DIR/node_modules")"
  fi
}
