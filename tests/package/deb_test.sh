#!/usr/bin/env bash
# The Debian package end to end: lintian, installation with apt, the installed files, user and
# secret, the installed daemon tracking an event against the test PostgreSQL and a private
# Redis, a reinstall that keeps the edited conffile, then a purge that leaves nothing behind.
# Needs root (it installs and purges metricpulse), MP_TEST_PG_URL, and the package:
# MP_TEST_DEB, or the one scripts/package builds (or has built) from these sources.
# Exit 77 (skipped) with MP_SKIP_PACKAGE_TESTS=1, when not root, or when metricpulse is already
# installed here for real.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)

skip() {
  printf 'skipped: %s\n' "$*"
  exit 77
}
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}
step() { printf -- '--- %s\n' "$*"; }

[[ ${MP_SKIP_PACKAGE_TESTS:-} == 1 ]] && skip "MP_SKIP_PACKAGE_TESTS=1"
((EUID == 0)) || skip "installing a package needs root (scripts/test as root runs this)"
[[ -n ${MP_TEST_PG_URL:-} ]] || fail "MP_TEST_PG_URL is not set (run through scripts/test)"
if dpkg-query -W -f='${db:Status-Abbrev}' metricpulse 2>/dev/null | grep -q '^[ih]i'; then
  skip "metricpulse is installed on this machine; this test installs and purges it"
fi

deb=${MP_TEST_DEB:-}
if [[ -z $deb ]]; then
  # Built from these sources unless build/package holds that build already (lintian is ours).
  step "scripts/package --no-lintian"
  deb=$("$root/scripts/package" --no-lintian | tail -n1) || fail "scripts/package failed"
fi
[[ -n $deb && -f $deb ]] || fail "no package at '$deb'"
deb=$(realpath "$deb")
version=$(sed -n 's/^project(metricpulse VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
[[ $(dpkg-deb -f "$deb" Version) == "$version"* ]] ||
  fail "$deb is version $(dpkg-deb -f "$deb" Version), the sources $version: rebuild it"

work=$(mktemp -d /tmp/metricpulse-deb-test.XXXXXX)
chmod 0755 "$work"
db="mp_pkg_$$"
db_url="${MP_TEST_PG_URL%/*}/$db"
daemon_pid="" redis_pid="" installed=0

cleanup() {
  local rc=$?
  local pid
  for pid in $daemon_pid $redis_pid; do
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if ((installed)); then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y metricpulse >/dev/null 2>&1 || true
  fi
  psql -q "$MP_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  if ((rc != 0)) && [[ -f $work/daemon.log ]]; then
    echo "---- the installed daemon's output ----" >&2
    tail -n 40 "$work/daemon.log" >&2
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- lintian: no errors; every warning is one packaging/README.md explains.
step "lintian $(basename "$deb")"
lintian --display-info --tag-display-limit 0 "$deb" >"$work/lintian.txt" 2>&1 || true
cat "$work/lintian.txt"
if grep -q '^E: ' "$work/lintian.txt"; then fail "lintian reports errors"; fi
while read -r tag; do
  grep -q -- "\`$tag\`" "$root/packaging/README.md" ||
    fail "lintian warns '$tag', which packaging/README.md does not list and justify"
done < <(sed -n 's/^W: [^:]*: \([a-z0-9-]*\).*/\1/p' "$work/lintian.txt" | sort -u)

# --- install with apt, as a sysadmin would.
step "apt-get install $deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$deb" >"$work/apt.log" 2>&1 ||
  {
    cat "$work/apt.log"
    fail "apt-get install failed"
  }
installed=1
dpkg-query -L metricpulse | sort >"$work/files.txt"

step "the installed files"
for f in /usr/sbin/metricpulsed /usr/bin/mpctl /etc/metricpulse/metricpulse.toml \
  /lib/systemd/system/metricpulsed.service /lib/systemd/system/metricpulse-aggregate.timer \
  /lib/systemd/system/metricpulse-retention.service /lib/systemd/system/metricpulse-retention.timer \
  /lib/systemd/system/metricpulse-report.service /lib/systemd/system/metricpulse-report.timer \
  /usr/lib/sysusers.d/metricpulse.conf /usr/lib/tmpfiles.d/metricpulse.conf \
  /usr/share/man/man8/metricpulsed.8.gz /usr/share/man/man1/mpctl.1.gz \
  /usr/share/man/man5/metricpulse.toml.5.gz /usr/share/metricpulse/web/tracker.js \
  /usr/share/metricpulse/web/dashboard/index.html /usr/share/metricpulse/sql/0001_initial.sql \
  /usr/share/doc/metricpulse/copyright /usr/share/doc/metricpulse/changelog.gz; do
  [[ -e $f ]] || fail "$f is not installed"
  grep -qxF "$f" "$work/files.txt" || fail "$f exists but does not belong to the package"
done
n_sql=$(find "$root/sql/migrations" -name '*.sql' | wc -l)
[[ $(find /usr/share/metricpulse/sql -name '*.sql' | wc -l) == "$n_sql" ]] ||
  fail "not all $n_sql migrations are in /usr/share/metricpulse/sql"
dpkg-query -W -f='${Conffiles}\n' metricpulse | grep -q '^ /etc/metricpulse/metricpulse.toml ' ||
  fail "/etc/metricpulse/metricpulse.toml is not a conffile"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libpq5 libhiredis0.14 libevent; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib (shlibs): $depends"
done

step "the system user and the secret"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd metricpulse) || fail "no user metricpulse"
((uid < 1000)) || fail "metricpulse is not a system user (uid $uid)"
[[ $home == /var/lib/metricpulse && $shell == /usr/sbin/nologin ]] ||
  fail "metricpulse has home $home and shell $shell"
[[ $(stat -c '%a %U:%G' /etc/metricpulse/jwt.secret) == "640 root:metricpulse" ]] ||
  fail "jwt.secret is $(stat -c '%a %U:%G' /etc/metricpulse/jwt.secret), not 640 root:metricpulse"
(($(wc -c </etc/metricpulse/jwt.secret) >= 32)) || fail "jwt.secret is shorter than 32 bytes"
[[ -d /var/lib/metricpulse && $(stat -c '%U' /var/lib/metricpulse) == metricpulse ]] ||
  fail "/var/lib/metricpulse is missing or not metricpulse's"
[[ ! -e /etc/systemd/system/multi-user.target.wants/metricpulsed.service ]] ||
  fail "the package enabled metricpulsed by itself"
! pgrep -u metricpulse >/dev/null || fail "something runs as metricpulse after installation"

step "mpctl --version, metricpulsed --check-config"
/usr/bin/mpctl --version | grep -qF "$version" || fail "mpctl --version does not say $version"
redis_port=$(free_port)
http_port=$(free_port)
ws_port=$(free_port)
metrics_port=$(free_port)
export MP_DATABASE_URL=$db_url MP_REDIS_URL="redis://127.0.0.1:$redis_port" \
  MP_HTTP_LISTEN="127.0.0.1:$http_port" MP_WS_LISTEN="127.0.0.1:$ws_port" \
  MP_METRICS_LISTEN="127.0.0.1:$metrics_port"
runuser -u metricpulse -- /usr/sbin/metricpulsed --check-config >"$work/check.txt" 2>&1 ||
  {
    cat "$work/check.txt"
    fail "metricpulsed --check-config rejects the installed configuration"
  }

step "migrate, start the installed daemon as metricpulse, track"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!
psql -q "$MP_TEST_PG_URL" -c "CREATE DATABASE $db" >/dev/null
/usr/bin/mpctl db migrate >"$work/migrate.txt" 2>&1 || {
  cat "$work/migrate.txt"
  fail "mpctl db migrate failed"
}
echo 'a-password-for-the-package-test' |
  /usr/bin/mpctl user add owner@example.com --password-stdin >/dev/null
/usr/bin/mpctl website add --owner owner@example.com --name Example --domain example.com >/dev/null
site=$(/usr/bin/mpctl website list --format csv | awk -F, 'NR == 2 {print $1}')
[[ $site =~ ^[0-9a-f-]{36}$ ]] || fail "no website id from mpctl website list: $site"

# setpriv execs the daemon itself (runuser would stay its parent): $! is the daemon.
setpriv --reuid metricpulse --regid metricpulse --init-groups /usr/sbin/metricpulsed \
  >"$work/daemon.log" 2>&1 &
daemon_pid=$!
base="http://127.0.0.1:$http_port"
for ((i = 0; i < 100; i++)); do
  curl -fsS -o /dev/null "$base/healthz" 2>/dev/null && break
  kill -0 "$daemon_pid" 2>/dev/null || fail "the installed daemon exited"
  sleep 0.2
done
curl -fsS -o /dev/null "$base/healthz" || fail "the installed daemon does not answer /healthz"
[[ $(ps -o user= -p "$daemon_pid") == metricpulse ]] || fail "the daemon does not run as metricpulse"
curl -fsS -o "$work/script.js" "$base/js/script.js" || fail "the installed tracker is not served"
cmp -s "$work/script.js" /usr/share/metricpulse/web/tracker.js || fail "/js/script.js is not tracker.js"

status=$(curl -sS -o "$work/track.txt" -w '%{http_code}' -H 'Content-Type: application/json' \
  -H 'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36' \
  --data "{\"websiteId\":\"$site\",\"url\":\"https://example.com/installed\"}" "$base/track")
[[ $status == 202 ]] || fail "POST /track answered $status: $(cat "$work/track.txt")"
stored=0
for ((i = 0; i < 100; i++)); do
  stored=$(psql -qtA "$db_url" -c "SELECT count(*) FROM events WHERE page = '/installed'")
  [[ $stored == 1 ]] && break
  sleep 0.2
done
[[ $stored == 1 ]] || fail "the tracked event is not in PostgreSQL (count $stored)"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "the daemon exited with $? on SIGTERM"
daemon_pid=""

step "a reinstall keeps the edited configuration and the secret"
echo '# edited by the administrator' >>/etc/metricpulse/metricpulse.toml
secret_sum=$(sha256sum </etc/metricpulse/jwt.secret)
DEBIAN_FRONTEND=noninteractive apt-get install -y --reinstall "$deb" >"$work/apt.log" 2>&1 || {
  cat "$work/apt.log"
  fail "apt-get install --reinstall failed"
}
tail -n1 /etc/metricpulse/metricpulse.toml | grep -qx '# edited by the administrator' ||
  fail "the reinstall overwrote /etc/metricpulse/metricpulse.toml"
[[ $(sha256sum </etc/metricpulse/jwt.secret) == "$secret_sum" ]] || fail "the reinstall replaced jwt.secret"

step "purge"
DEBIAN_FRONTEND=noninteractive apt-get purge -y metricpulse >"$work/apt.log" 2>&1 || {
  cat "$work/apt.log"
  fail "apt-get purge failed"
}
installed=0
if dpkg-query -W -f='${db:Status-Abbrev}' metricpulse 2>/dev/null | grep -q '^.[^n]'; then
  fail "dpkg still knows metricpulse: $(dpkg-query -W -f='${db:Status-Abbrev}' metricpulse)"
fi
left=()
while read -r f; do
  [[ -e $f && ! -d $f ]] && left+=("$f")
done <"$work/files.txt"
for d in /etc/metricpulse /var/lib/metricpulse /usr/share/metricpulse /usr/share/doc/metricpulse; do
  [[ -e $d ]] && left+=("$d")
done
((${#left[@]} == 0)) || fail "left after purge: ${left[*]}"
# Debian policy 9.2.2: a package does not remove the system user it made.
getent passwd metricpulse >/dev/null || fail "the purge removed the system user (policy keeps it)"
echo "kept after purge, as Debian policy says: the system user metricpulse"
echo "package test passed"
