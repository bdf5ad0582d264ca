# shellcheck shell=bash
# Builds the libFuzzer targets (tests/fuzz) with clang into build/clang-fuzz/ and runs them for a
# bounded time over their committed corpus. A crash, a leak or a broken invariant fails the run.

MP_FUZZ_BUILD="$MP_BUILD/clang-fuzz"

# build_fuzzers: configures build/clang-fuzz/ with clang and MP_BUILD_FUZZ=ON, builds the fuzzers.
build_fuzzers() {
  local cache="$MP_FUZZ_BUILD/CMakeCache.txt" args=() extra=() home started=$SECONDS
  if [[ -f $cache ]]; then
    home=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$cache")
    if [[ -n $home && $home != "$MP_ROOT" ]]; then
      die "$(rel "$MP_FUZZ_BUILD") was configured for another checkout ($home)" \
        "remove $(rel "$MP_FUZZ_BUILD") and run again"
    fi
  else
    args+=(-G Ninja)
  fi
  command -v clang++ >/dev/null || die "clang++ not found (the fuzzers need clang and libFuzzer)" \
    "install the packages clang and libclang-rt-dev, or set MP_FUZZ_SECONDS=0 to skip fuzzing"
  read -r -a extra <<<"${MP_CMAKE_ARGS:-}"
  say "configuring $(rel "$MP_FUZZ_BUILD") (clang, libFuzzer)"
  cmake -S "$MP_ROOT" -B "$MP_FUZZ_BUILD" "${args[@]}" --log-level=NOTICE \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DMP_BUILD_BENCH=OFF "${extra[@]}" -DMP_BUILD_FUZZ=ON ||
    die "cmake could not configure the fuzz build (see the messages above)"
  cmake --build "$MP_FUZZ_BUILD" --parallel "$(nproc)" --target mp_ws_fuzzer ||
    die "the fuzz build failed (see the compiler output above)"
  say "fuzzers built in $((SECONDS - started)) s"
}

# run_fuzzers SECONDS: runs each fuzzer for SECONDS over its committed corpus (read only) and a
# working corpus under build/clang-fuzz/ that grows from run to run. False when one fails.
run_fuzzers() {
  local seconds=$1 name=ws bin corpus work artifacts log
  bin="$MP_FUZZ_BUILD/tests/fuzz/mp_${name}_fuzzer"
  corpus="$MP_ROOT/tests/fuzz/corpus/$name"
  work="$MP_FUZZ_BUILD/corpus/$name"
  artifacts="$MP_FUZZ_BUILD/artifacts/$name/"
  log="$MP_FUZZ_BUILD/$name-fuzz.log"
  mkdir -p "$work" "$artifacts"
  say "fuzzing the WebSocket codec for $seconds s (log: $(rel "$log"))"
  # libFuzzer writes new inputs to the first directory only, so the committed corpus stays as
  # it is. No single allocation may reach 16 MiB: the codec never needs more than 64 KiB.
  if "$bin" -max_total_time="$seconds" -timeout=10 -malloc_limit_mb=16 -print_final_stats=1 \
    -artifact_prefix="$artifacts" "$work" "$corpus" >"$log" 2>&1; then
    note "$(sed -n 's/^stat::number_of_executed_units: *//p' "$log") inputs, no failure"
    return 0
  fi
  show_log_tail "$log" 40
  warn "the $name fuzzer failed (log: $(rel "$log"))"
  note "the failing input is in $(rel "$artifacts"); replay it with: $(rel "$bin") FILE"
  note "once fixed, add it to $(rel "$corpus")/ so every build replays it"
  return 1
}
