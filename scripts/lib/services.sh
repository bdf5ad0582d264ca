# shellcheck shell=bash disable=SC2034  # globals used by the scripts that source this
# The private PostgreSQL 15 and Redis of a checkout, under var/: start (reusing what a previous
# run left, running or crashed), stop, and their URLs.
#
# Two instances: "run" (scripts/run: var/pg, var/redis, ports 55432/56379) and "test"
# (scripts/test: var/test/pg, var/test/redis, ports 55433/56380, PostgreSQL without fsync).
# The ports chosen are kept in var/ports.env. MP_PG_PORT/MP_REDIS_PORT and
# MP_TEST_PG_PORT/MP_TEST_REDIS_PORT override them.
#
# As root, PostgreSQL runs as the `postgres` user (initdb refuses root) and Redis as root;
# as anyone else, both run as that user. PostgreSQL's superuser is `postgres` with a random
# password (in <pg dir>/superuser.password), so other local users cannot use the cluster.
#
# After start_postgres/start_redis: PG_URL_ADMIN (database postgres), PG_URL (database
# metricpulse, run instance only), PG_PORT, PG_DIR; REDIS_URL, REDIS_PORT, REDIS_DIR.

MP_PG_BIN=/usr/lib/postgresql/15/bin

# instance_key INSTANCE WHAT: the var/ports.env key, e.g. PG_PORT or TEST_REDIS_PORT.
instance_key() {
  case $1 in
    run) printf '%s_PORT' "$2" ;;
    test) printf 'TEST_%s_PORT' "$2" ;;
    *) die "unknown instance '$1'" ;;
  esac
}

# instance_subdir INSTANCE: where an instance's directories live below var/.
instance_subdir() {
  case $1 in
    run) printf '' ;;
    test) printf 'test/' ;;
    *) die "unknown instance '$1'" ;;
  esac
}

# pg_fallback_base: the directory used when the postgres user cannot reach var/ (one per checkout).
pg_fallback_base() {
  local hash
  hash=$(printf '%s' "$MP_ROOT" | sha256sum | cut -c1-12)
  printf '/var/tmp/metricpulse-%s' "$hash"
}

# pg_unreachable_dir USER DIR: prints the first directory on the way to DIR that USER cannot
# enter (nothing when USER reaches DIR).
pg_unreachable_dir() {
  local user=$1 dir=$2 path="" part parts
  as_user "$user" test -x "$dir" && return 0
  IFS=/ read -r -a parts <<<"${dir#/}"
  for part in "${parts[@]}"; do
    path="$path/$part"
    if ! as_user "$user" test -x "$path"; then
      printf '%s' "$path"
      return 0
    fi
  done
  printf '%s' "$dir"
}

# pg_dir_candidates INSTANCE: both places an instance's PostgreSQL may live (var/ first).
pg_dir_candidates() {
  local sub
  sub=$(instance_subdir "$1")
  printf '%s\n' "$MP_VAR/${sub}pg" "$(pg_fallback_base)/${sub}pg"
}

# pick_pg_dir INSTANCE: prints the directory for this instance's PostgreSQL: under var/, or,
# when we are root and the postgres user cannot get there, under /var/tmp (explained on stderr).
pick_pg_dir() {
  local inside fallback blocked
  { read -r inside; read -r fallback; } < <(pg_dir_candidates "$1")
  if ((EUID != 0)); then
    printf '%s' "$inside"
    return 0
  fi
  if [[ -d $inside/data ]]; then
    # An existing cluster runs as its owner; it reached it before.
    if [[ -z $(pg_unreachable_dir "$(file_owner "$inside/data")" "$inside") ]]; then
      printf '%s' "$inside"
      return 0
    fi
  fi
  blocked=$(pg_unreachable_dir postgres "$MP_VAR")
  if [[ -z $blocked ]]; then
    printf '%s' "$inside"
    return 0
  fi
  warn "the postgres user cannot enter $blocked ($(stat -c '%A, owner %U' "$blocked")), so PostgreSQL cannot keep its data under $(rel "$MP_VAR")/" >&2
  note "using $fallback instead (to keep it in var/, clone into a directory other users may enter, or chmod o+x $blocked)" >&2
  printf '%s' "$fallback"
}

# secure_dir DIR OWNER MODE: creates DIR (and parents) and makes sure it is a real directory
# owned by OWNER with MODE; refuses a symlink or a directory someone else planted in /var/tmp.
secure_dir() {
  local dir=$1 owner=$2 mode=$3
  if [[ -L $dir ]]; then die "$dir is a symbolic link; remove it and run again"; fi
  if [[ ! -d $dir ]]; then
    mkdir -p "$dir"
    chown "$owner": "$dir"
  fi
  case $(file_owner "$dir") in
    "$owner" | "$(id -un)") ;;
    *) die "$dir belongs to $(file_owner "$dir"), expected $owner; remove it and run again" ;;
  esac
  chown "$owner": "$dir"
  chmod "$mode" "$dir"
}

# pg_running_pid DATA: the pid of the postmaster of DATA when it runs; removes a stale pid file.
pg_running_pid() {
  local data=$1 pidfile="$1/postmaster.pid" pid
  [[ -f $pidfile ]] || return 0
  pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
  if pid_alive "$pid" && [[ $(pid_comm "$pid") == postgres* ]]; then
    printf '%s' "$pid"
    return 0
  fi
  note "removing the stale $(rel "$pidfile") (pid ${pid:-?} is not running)" >&2
  [[ $pid =~ ^[0-9]+$ ]] && wait_reaped "$pid"
  rm -f "$pidfile"
}

# pg_running_port DATA: the port written into postmaster.pid by the running server.
pg_running_port() {
  sed -n '4p' "$1/postmaster.pid" 2>/dev/null || true
}

# pg_ctl_as OWNER ARGS...: runs pg_ctl as OWNER.
pg_ctl_as() {
  local owner=$1
  shift
  as_user "$owner" "$MP_PG_BIN/pg_ctl" "$@"
}

# pg_write_conf INSTANCE DIR PORT OWNER: the settings this script owns, in data/metricpulse.conf,
# included from postgresql.conf. Rewritten on every start.
pg_write_conf() {
  local instance=$1 dir=$2 port=$3 owner=$4 data="$2/data" socket="$2/run"
  # A Unix socket path must fit in 107 bytes ("/.s.PGSQL.NNNNN" included).
  if ((${#socket} > 90)); then socket=/tmp; fi
  {
    echo "# Written by scripts/lib/services.sh on every start; edits here are lost."
    echo "port = $port"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '${socket//\'/\'\'}'"
    echo "unix_socket_permissions = 0700"
    if [[ $instance == test ]]; then
      echo "# Throwaway test data: speed over durability."
      echo "fsync = off"
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
      echo "max_connections = 300"
    fi
  } >"$data/metricpulse.conf"
  chown "$owner": "$data/metricpulse.conf"
  chmod 0600 "$data/metricpulse.conf"
  if ! grep -q "^include_if_exists = 'metricpulse.conf'" "$data/postgresql.conf"; then
    printf "\ninclude_if_exists = 'metricpulse.conf'\n" >>"$data/postgresql.conf"
  fi
}

# pg_psql ARGS...: psql as the superuser against PG_PORT.
pg_psql() {
  PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=10 "$MP_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"
}

# start_postgres INSTANCE: makes sure the instance's PostgreSQL runs (initdb the first time).
start_postgres() {
  local instance=$1 dir data owner pid current="" port started=$SECONDS
  dir=$(pick_pg_dir "$instance")
  data="$dir/data"
  if [[ -d $data ]]; then
    owner=$(file_owner "$data")
  elif ((EUID == 0)); then
    owner=postgres
  else
    owner=$(id -un)
  fi
  id "$owner" >/dev/null 2>&1 || die "user $owner does not exist (is postgresql-15 installed?)"

  ensure_var
  if [[ $dir != "$MP_VAR"/* ]]; then
    secure_dir "$(pg_fallback_base)" "$(id -un)" 0755
    [[ $instance == test ]] && secure_dir "$(pg_fallback_base)/test" "$(id -un)" 0755
  elif [[ $instance == test ]]; then
    mkdir -p "$MP_VAR/test"
    chmod 0755 "$MP_VAR/test"
  fi
  secure_dir "$dir" "$owner" 0700
  secure_dir "$dir/log" "$owner" 0700
  secure_dir "$dir/run" "$owner" 0700

  pid=$(pg_running_pid "$data")
  [[ -n $pid ]] && current=$(pg_running_port "$data")
  port=$(choose_port "$(instance_key "$instance" PG)" \
    "$([[ $instance == test ]] && echo 55433 || echo 55432)" \
    "$([[ $instance == test ]] && echo MP_TEST_PG_PORT || echo MP_PG_PORT)" "$current")

  if [[ -n $pid && $current != "$port" ]]; then
    say "restarting PostgreSQL ($instance) to move it from port $current to $port"
    pg_ctl_as "$owner" -D "$data" -m fast -w stop >/dev/null ||
      die "could not stop the PostgreSQL of $(rel "$data")"
    pid=""
  fi

  local pwfile="$dir/superuser.password"
  if [[ ! -f $data/PG_VERSION ]]; then
    if [[ -d $data ]] && [[ -n $(ls -A "$data") ]]; then
      die "$(rel "$data") exists but holds no PostgreSQL cluster" "remove it and run again"
    fi
    say "creating the PostgreSQL 15 cluster ($instance) in $(rel "$data")"
    (umask 077 && openssl rand -hex 24 >"$pwfile")
    chown "$owner": "$pwfile"
    local sync=()
    [[ $instance == test ]] && sync=(--no-sync)
    if ! as_user "$owner" "$MP_PG_BIN/initdb" -D "$data" -U postgres -A scram-sha-256 \
      --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 "${sync[@]}" >"$dir/log/initdb.log" 2>&1; then
      show_log_tail "$dir/log/initdb.log"
      die "initdb failed (log: $(rel "$dir/log/initdb.log"))"
    fi
  fi
  [[ -s $pwfile ]] || die "$(rel "$pwfile") is missing, so the cluster in $(rel "$data") cannot be used" \
    "stop it (scripts/run --stop), remove $(rel "$dir") and run again"
  PG_PASSWORD=$(<"$pwfile")
  PG_DIR=$dir
  PG_PORT=$port

  if [[ -n $pid ]]; then
    say "PostgreSQL ($instance) already running on 127.0.0.1:$port"
  else
    pg_write_conf "$instance" "$dir" "$port" "$owner"
    # 9>&-: the server must not inherit the lock on var/.
    if ! pg_ctl_as "$owner" -D "$data" -l "$dir/log/postgresql.log" -w -t 90 start >/dev/null 9>&-; then
      show_log_tail "$dir/log/postgresql.log"
      die "PostgreSQL ($instance) did not start (log: $(rel "$dir/log/postgresql.log"))"
    fi
    say "PostgreSQL ($instance) ready on 127.0.0.1:$port ($((SECONDS - started)) s, data in $(rel "$data"))"
  fi

  PG_URL_ADMIN="postgresql://postgres:$PG_PASSWORD@127.0.0.1:$port/postgres"
  PG_URL="postgresql://postgres:$PG_PASSWORD@127.0.0.1:$port/metricpulse"
  pg_psql -d postgres -tAc 'SELECT 1' >/dev/null ||
    die "PostgreSQL ($instance) on port $port does not accept our connection" \
      "log: $(rel "$dir/log/postgresql.log")"
}

# ensure_database NAME: creates database NAME on the started PostgreSQL when it is missing.
ensure_database() {
  local name=$1
  if [[ -z $(pg_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'") ]]; then
    pg_psql -d postgres -c "CREATE DATABASE \"$name\"" >/dev/null ||
      die "could not create database $name"
    say "created database $name"
  fi
}

# stop_postgres INSTANCE: stops the instance's PostgreSQL wherever it runs.
stop_postgres() {
  local instance=$1 dir data pid
  while read -r dir; do
    data="$dir/data"
    [[ -d $data ]] || continue
    pid=$(pg_running_pid "$data")
    if [[ -z $pid ]]; then
      note "PostgreSQL ($instance) is not running"
      continue
    fi
    if pg_ctl_as "$(file_owner "$data")" -D "$data" -m fast -w -t 60 stop >/dev/null; then
      say "stopped PostgreSQL ($instance, $(rel "$data"))"
    else
      die "could not stop PostgreSQL ($instance, pid $pid)"
    fi
  done < <(pg_dir_candidates "$instance")
}

# redis_dir INSTANCE: the instance's Redis directory.
redis_dir() {
  printf '%s/%sredis' "$MP_VAR" "$(instance_subdir "$1")"
}

# redis_running_pid DIR: the pid of our redis-server of DIR when it runs; removes a stale pid file.
redis_running_pid() {
  local pidfile="$1/redis.pid" pid
  [[ -f $pidfile ]] || return 0
  pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
  if pid_alive "$pid" && [[ $(pid_comm "$pid") == redis-server* ]]; then
    printf '%s' "$pid"
    return 0
  fi
  note "removing the stale $(rel "$pidfile") (pid ${pid:-?} is not running)" >&2
  rm -f "$pidfile"
}

# redis_running_port PID: the port in the process title ("redis-server 127.0.0.1:56379").
redis_running_port() {
  local title
  title=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true)
  if [[ $title =~ --port\ +([0-9]+) ]] || [[ $title =~ :([0-9]+) ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
  fi
}

# redis_pid_on PORT: the process_id the Redis listening on PORT reports.
redis_pid_on() {
  redis-cli -h 127.0.0.1 -p "$1" INFO server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p'
}

# stop_redis_pid PID NAME: SIGTERM (Redis writes its AOF and exits), SIGKILL after 20 s.
stop_redis_pid() {
  local pid=$1 name=$2 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 200; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  warn "$name did not stop within 20 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

# start_redis INSTANCE: makes sure the instance's redis-server runs.
start_redis() {
  local instance=$1 dir pid current="" port persist i
  dir=$(redis_dir "$instance")
  mkdir -p "$dir"
  chmod 0700 "$dir"
  pid=$(redis_running_pid "$dir")
  [[ -n $pid ]] && current=$(redis_running_port "$pid")
  port=$(choose_port "$(instance_key "$instance" REDIS)" \
    "$([[ $instance == test ]] && echo 56380 || echo 56379)" \
    "$([[ $instance == test ]] && echo MP_TEST_REDIS_PORT || echo MP_REDIS_PORT)" "$current")

  if [[ -n $pid && $current != "$port" ]]; then
    say "restarting Redis ($instance) to move it from port $current to $port"
    stop_redis_pid "$pid" "Redis ($instance)"
    rm -f "$dir/redis.pid"
    pid=""
  fi

  REDIS_DIR=$dir
  REDIS_PORT=$port
  REDIS_URL="redis://127.0.0.1:$port"
  if [[ -n $pid ]]; then
    say "Redis ($instance) already running on 127.0.0.1:$port"
    return 0
  fi

  if [[ $instance == test ]]; then
    persist=(--appendonly no)
  else
    # The ingest queue lives in Redis: keep it across restarts.
    # Every event passes through the AOF: rewrite it every 512 MB rather than every 64 MB
    # (docs/operations.md).
    persist=(--appendonly yes --appendfsync everysec --auto-aof-rewrite-min-size 512mb)
  fi
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" "${persist[@]}" --save '' \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" 9>&- ||
    die "redis-server ($instance) did not start (log: $(rel "$dir/redis.log"))"
  # It forks before it binds: wait until the server on the port is the one we started.
  for ((i = 0; i < 100; i++)); do
    pid=$(head -n 1 "$dir/redis.pid" 2>/dev/null || true)
    if [[ -n $pid && $(redis_pid_on "$port") == "$pid" ]]; then
      say "Redis ($instance) ready on 127.0.0.1:$port (data in $(rel "$dir"))"
      return 0
    fi
    if ((i > 10)) && [[ -n $pid ]] && ! pid_alive "$pid"; then break; fi
    sleep 0.1
  done
  show_log_tail "$dir/redis.log"
  die "Redis ($instance) did not come up on 127.0.0.1:$port (log: $(rel "$dir/redis.log"))"
}

# stop_redis INSTANCE: stops the instance's redis-server.
stop_redis() {
  local instance=$1 dir pid
  dir=$(redis_dir "$instance")
  [[ -d $dir ]] || return 0
  pid=$(redis_running_pid "$dir")
  if [[ -z $pid ]]; then
    note "Redis ($instance) is not running"
    return 0
  fi
  stop_redis_pid "$pid" "Redis ($instance)"
  rm -f "$dir/redis.pid"
  say "stopped Redis ($instance)"
}

# stop_all_services: stops every private service of this checkout (both instances).
stop_all_services() {
  local instance
  for instance in run test; do
    stop_postgres "$instance"
    stop_redis "$instance"
  done
}
