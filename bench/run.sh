#!/usr/bin/env bash
# seal's benchmarks in one command: builds a release build in build-bench
# (packages through scripts/setup.sh), runs bench/bench.py, prints the tables
# and writes bench/results.md. Measurement only: nothing is asserted.
#
#   bench/run.sh [--no-setup] [--build-dir DIR] [bench.py options...]
#
#   --no-setup       use DIR as it is (what `meson compile -C DIR bench` does)
#   --build-dir DIR  build folder (default: build-bench at the top)
#   --quick          short run: sizes 1k and 10k, 200 changes, shorter timings
# Other options go to bench/bench.py (--sizes, --changes, --out, --sections...;
# bench/bench.py --help).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$top/build-bench"
setup=1
args=()
while (($#)); do
  case "$1" in
    --no-setup) setup=0 ;;
    --build-dir) build=$2; shift ;;
    --quick) args+=(--sizes 1000,10000 --changes 200 --crypto-seconds 1 --openssl-seconds 1
                    --cli-runs 5 --process-runs 11) ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done

if ((setup)); then
  # A release build without the test programs: the benchmarks need only the
  # libraries and the two executables. Configured here first when meson is
  # there already; scripts/setup.sh installs what is missing and builds.
  if [[ ! -f "$build/build.ninja" ]] && command -v meson >/dev/null 2>&1; then
    meson setup "$build" "$top" --buildtype=release -Dtests=false >/dev/null || true
  fi
  BUILD_DIR="$build" BUILDTYPE=release "$top/scripts/setup.sh"
  ninja -C "$build" bench/bench_crypto seal/seal unseal-controller/unseal-controller >/dev/null
fi

for tool in openssl age age-keygen kubectl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is not installed" >&2; exit 1; }
done
exec /usr/bin/python3 "$top/bench/bench.py" --build-dir "$build" "${args[@]}"
