# shellcheck shell=bash disable=SC2034  # globals used by the scripts that source this
# Shared helpers of scripts/run and scripts/test: messages, paths, users, ports, the var/ lock.
# Sourced with MP_ROOT set to the absolute path of the checkout.

MP_VAR="$MP_ROOT/var"
MP_BUILD="$MP_ROOT/build"
MP_PORTS_FILE="$MP_VAR/ports.env"
# Default ports of the two instances (run: PostgreSQL, Redis; test: PostgreSQL, Redis).
MP_DEFAULT_PORTS="55432 56379 55433 56380"

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }

# die LINE... : prints every line (the first after "error:") and exits 1.
die() {
  printf 'error: %s\n' "$1" >&2
  shift
  local line
  for line in "$@"; do printf '       %s\n' "$line" >&2; done
  exit 1
}

# show_log_tail FILE [LINES]: the end of a server log, for a failure message.
show_log_tail() {
  local file=$1 lines=${2:-25}
  if [[ -r $file ]]; then
    printf -- '---- last %s lines of %s ----\n' "$lines" "$file" >&2
    tail -n "$lines" "$file" >&2
    printf -- '----\n' >&2
  fi
}

# rel PATH: PATH relative to the checkout when it lies inside it, for shorter messages.
rel() {
  case $1 in
    "$MP_ROOT"/*) printf '%s' "${1#"$MP_ROOT"/}" ;;
    *) printf '%s' "$1" ;;
  esac
}

# as_user USER CMD...: runs CMD as USER (directly when that is us, through runuser when we are
# root), from / so a home directory the user cannot enter does not matter.
as_user() {
  local user=$1
  shift
  if [[ $user == "$(id -un)" ]]; then
    (cd / && "$@")
  elif ((EUID == 0)); then
    (cd / && runuser -u "$user" -- "$@")
  else
    die "this needs to run as '$user' (the owner of the files), not as '$(id -un)'" \
      "run it again as root (sudo) or as $user"
  fi
}

# pid_alive PID: true when PID is a running process (a zombie, killed but not yet reaped,
# is not).
pid_alive() {
  local stat
  [[ $1 =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != [ZX] ]]
}

# wait_reaped PID: waits up to 15 s for a dead PID to leave the process table, since PostgreSQL
# takes a zombie's pid in its lock files for a live server (seen in containers whose pid 1 reaps
# orphans late).
wait_reaped() {
  local i
  for ((i = 0; i < 150; i++)); do
    [[ -e /proc/$1 ]] || return 0
    sleep 0.1
  done
}

# pid_comm PID: the process's command name ("" when it is gone).
pid_comm() {
  cat "/proc/$1/comm" 2>/dev/null || true
}

# port_open PORT [HOST]: true when something accepts TCP connections there.
port_open() {
  local port=$1 host=${2:-127.0.0.1}
  # shellcheck disable=SC2016  # expanded by the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
}

# valid_port VALUE: true for 1024..65535.
valid_port() {
  [[ $1 =~ ^[0-9]+$ ]] && (($1 >= 1024 && $1 <= 65535))
}

# ports_get KEY: the port recorded in var/ports.env for KEY, or nothing.
ports_get() {
  local key=$1 line value=""
  [[ -r $MP_PORTS_FILE ]] || return 0
  while IFS= read -r line; do
    if [[ $line == "$key="* ]]; then value=${line#*=}; fi
  done <"$MP_PORTS_FILE"
  if valid_port "$value"; then printf '%s' "$value"; fi
}

# ports_set KEY PORT: records PORT for KEY in var/ports.env.
ports_set() {
  local key=$1 port=$2 tmp line
  [[ $(ports_get "$key") == "$port" ]] && return 0
  tmp=$(mktemp "$MP_VAR/.ports.XXXXXX")
  {
    echo "# Ports chosen by scripts/run and scripts/test; kept so every run reuses them."
    if [[ -r $MP_PORTS_FILE ]]; then
      while IFS= read -r line; do
        [[ $line == "#"* || -z $line || $line == "$key="* ]] || printf '%s\n' "$line"
      done <"$MP_PORTS_FILE"
    fi
    printf '%s=%s\n' "$key" "$port"
  } >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$MP_PORTS_FILE"
}

# ports_reserved_except KEY: every port in var/ports.env that belongs to another key.
ports_reserved_except() {
  local key=$1 line
  [[ -r $MP_PORTS_FILE ]] || return 0
  while IFS= read -r line; do
    [[ $line == *=* && $line != "#"* && $line != "$key="* ]] && printf '%s\n' "${line#*=}"
  done <"$MP_PORTS_FILE"
}

# choose_port KEY DEFAULT ENVVAR CURRENT: prints the port a service should listen on, records it.
# ENVVAR (when set) wins; else the recorded port, else DEFAULT. CURRENT is the port our own
# instance listens on right now ("" when it is not running): that port counts as free for us.
# A port that another program holds is skipped (upward), except one the user asked for.
choose_port() {
  local key=$1 default=$2 envvar=$3 current=$4 wanted port reserved
  wanted=${!envvar:-}
  if [[ -n $wanted ]]; then
    valid_port "$wanted" || die "$envvar=$wanted is not a port number between 1024 and 65535"
    if [[ $wanted != "$current" ]] && port_open "$wanted"; then
      die "$envvar=$wanted, but another program already listens on 127.0.0.1:$wanted" \
        "choose another port, or unset $envvar to let the script pick a free one"
    fi
    ports_set "$key" "$wanted"
    printf '%s' "$wanted"
    return 0
  fi
  port=$(ports_get "$key")
  port=${port:-$default}
  if [[ $port != "$current" ]] && port_open "$port"; then
    # Skip the ports other instances use or will use by default, too.
    reserved=" $(ports_reserved_except "$key" | tr '\n' ' ') $MP_DEFAULT_PORTS "
    local first=$port
    while :; do
      port=$((port + 1))
      ((port > first + 200)) && die "no free port found in $first..$((first + 200)) on 127.0.0.1" \
        "set $envvar to a free port"
      [[ $reserved == *" $port "* ]] && continue
      port_open "$port" || break
    done
    warn "port $first is in use by another program; using $port instead (recorded in var/ports.env; $envvar overrides)"
  fi
  ports_set "$key" "$port"
  printf '%s' "$port"
}

# ensure_var: creates var/ (0755: the postgres user must be able to pass through it).
ensure_var() {
  if [[ ! -d $MP_VAR ]]; then
    mkdir -p "$MP_VAR"
    chmod 0755 "$MP_VAR"
  fi
}

# lock_var: one scripts/run or scripts/test at a time per checkout, for the build and set-up.
# The lock is fd 9; unlock_var closes it before a long-lived program is started.
lock_var() {
  ensure_var
  exec 9>"$MP_VAR/.lock"
  if ! flock -n 9; then
    say "waiting for another scripts/run or scripts/test of this checkout to finish its set-up"
    flock -w 1800 9 || die "gave up waiting for $MP_VAR/.lock"
  fi
}
unlock_var() {
  exec 9>&-
}

# file_owner PATH: the user name owning PATH.
file_owner() {
  stat -c %U "$1"
}

# toml_string VALUE: VALUE as a TOML basic string.
toml_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

# drop_service_overrides: unsets the environment overrides of the config file that would send
# the programs started here to other services than the private ones (say, a production
# database exported in the caller's shell).
drop_service_overrides() {
  local name
  for name in MP_DATABASE_URL MP_REDIS_URL MP_JWT_SECRET_FILE; do
    if [[ -n ${!name+set} ]]; then
      warn "ignoring $name from the environment: this script uses its own private services"
      unset "$name"
    fi
  done
}
