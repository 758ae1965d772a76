#!/usr/bin/env bash
# Builds the fuzz targets (tests/fuzz/) with clang, libFuzzer, AddressSanitizer
# and UndefinedBehaviorSanitizer, and runs each for SECONDS (default 30) on a
# copy of its seed corpus in a temporary folder, so the tree stays clean.
# Prints the executions each target ran and any crash; exits 1 if any target
# crashed, leaked, timed out or ran out of memory, 2 on a usage or build error.
#   scripts/fuzz.sh [SECONDS]
# Environment:
#   FUZZ_BUILD_DIR   build folder (default: build-fuzz-clang)
#   FUZZ_TARGETS     space-separated target names to run (default: all built)
#   FUZZ_ARTIFACTS   where crashing inputs are kept (default: BUILD_DIR/fuzz-artifacts)
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

seconds=${1:-30}
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS]" >&2
  exit 2
fi
build_dir=${FUZZ_BUILD_DIR:-build-fuzz-clang}
[[ "$build_dir" == /* ]] || build_dir="$top/$build_dir"
artifacts=${FUZZ_ARTIFACTS:-$build_dir/fuzz-artifacts}

if ! command -v clang >/dev/null 2>&1; then
  echo "fuzz: clang is not installed (scripts/setup.sh installs it)" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/seal-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Every library is built with coverage instrumentation and the sanitizers, so
# the fuzzer sees inside the parsers and catches what goes wrong there; the
# targets themselves link libFuzzer (tests/fuzz/meson.build).
opts=(--buildtype=debugoptimized -Dfuzz=true -Db_lundef=false
      -Db_sanitize=address,undefined -Dc_args=-fsanitize=fuzzer-no-link)
if [[ -f "$build_dir/build.ninja" ]]; then
  setup=(meson setup --reconfigure "$build_dir" "${opts[@]}")
else
  setup=(env CC=clang meson setup "$build_dir" "${opts[@]}")
fi
if ! "${setup[@]}" >"$work/setup.log" 2>&1; then
  cat "$work/setup.log" >&2
  echo "fuzz: configuring $build_dir failed" >&2
  exit 2
fi
if ! grep -q -- "-fsanitize=fuzzer," "$build_dir/build.ninja"; then
  echo "fuzz: $build_dir is not a clang build; remove it and run again" >&2
  exit 2
fi
if ! ninja -C "$build_dir" fuzzers >/dev/null; then
  ninja -C "$build_dir" fuzzers 2>&1 | tail -40 >&2
  echo "fuzz: building the fuzz targets failed" >&2
  exit 2
fi

targets=()
if [[ -n "${FUZZ_TARGETS:-}" ]]; then
  for t in $FUZZ_TARGETS; do targets+=("$build_dir/tests/fuzz/fuzz_$t"); done
else
  for exe in "$build_dir"/tests/fuzz/fuzz_*; do
    [[ -f "$exe" && -x "$exe" ]] && targets+=("$exe")
  done
fi
if ((${#targets[@]} == 0)); then
  echo "fuzz: no fuzz target was built" >&2
  exit 2
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
total=0
for exe in "${targets[@]}"; do
  name=${exe##*/fuzz_}
  corpus="$work/$name/corpus"
  mkdir -p "$corpus" "$work/$name/crashes"
  if [[ -d "tests/fuzz/corpus/$name" ]]; then
    cp -R "tests/fuzz/corpus/$name/." "$corpus/"
  fi
  log="$work/$name/log"
  # -timeout: one input taking 10 s is a denial of service, not a slow test.
  (cd "$work/$name" && "$exe" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$work/$name/crashes/" \
    "$corpus") </dev/null >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  execs=${execs:-0}
  total=$((total + execs))
  found=$(find "$work/$name/crashes" -type f | wc -l)
  if [[ $rc -eq 0 && $found -eq 0 ]]; then
    printf 'fuzz_%-16s %10s executions in %s s, no crash\n' "$name" "$execs" "$seconds"
    continue
  fi
  status=1
  printf 'fuzz_%-16s %10s executions, CRASH (exit %s)\n' "$name" "$execs" "$rc"
  grep -E "^(==[0-9]+==ERROR|SUMMARY|fuzz: |.*runtime error)" "$log" | head -n 20 | sed 's/^/  /'
  mkdir -p "$artifacts/$name"
  for f in "$work/$name/crashes"/*; do
    [[ -f "$f" ]] || continue
    cp "$f" "$artifacts/$name/"
    echo "  input kept in $artifacts/$name/${f##*/}"
  done
  cp "$log" "$artifacts/$name/log"
  echo "  log kept in $artifacts/$name/log"
done
echo "fuzz: ${#targets[@]} targets, $total executions, $([[ $status == 0 ]] && echo "no crash" || echo "crashes found")"
exit $status
