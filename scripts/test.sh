#!/usr/bin/env bash
# Sets everything up, builds, and runs the whole test suite.
#   scripts/test.sh [meson test options, e.g. --suite unit]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$top/scripts/setup.sh"
cd "$top"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 "$@"
