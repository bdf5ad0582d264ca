# shellcheck shell=bash
# Configures and builds the checkout into build/ with CMake and Ninja.
# MP_BUILD_TYPE (default RelWithDebInfo) and MP_CMAKE_ARGS (extra -D options) are honoured.

# build_metricpulse [TARGET...]: configures build/ and builds TARGETs (everything when none).
build_metricpulse() {
  local cache="$MP_BUILD/CMakeCache.txt" args=() extra=() home
  if [[ -f $cache ]]; then
    home=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$cache")
    if [[ -n $home && $home != "$MP_ROOT" ]]; then
      die "build/ was configured for another checkout ($home)" "remove $(rel "$MP_BUILD") and run again"
    fi
  else
    args+=(-G Ninja)
  fi
  read -r -a extra <<<"${MP_CMAKE_ARGS:-}"

  local type=${MP_BUILD_TYPE:-RelWithDebInfo} jobs started=$SECONDS
  jobs=$(nproc)
  say "configuring build/ ($type)"
  cmake -S "$MP_ROOT" -B "$MP_BUILD" "${args[@]}" --log-level=NOTICE \
    -DCMAKE_BUILD_TYPE="$type" "${extra[@]}" ||
    die "cmake could not configure the build (see the messages above)"

  local what="everything" targets=()
  if (($# > 0)); then
    what="$*"
    targets=(--target "$@")
  fi
  say "building $what with $jobs jobs"
  cmake --build "$MP_BUILD" --parallel "$jobs" "${targets[@]}" ||
    die "the build failed (see the compiler output above)"
  say "built in $((SECONDS - started)) s"
}
