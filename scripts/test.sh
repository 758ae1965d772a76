#!/usr/bin/env bash
# Sets everything up, builds, runs the whole test suite (the unit suite also
# under valgrind, `meson test --setup valgrind`) and counts its cases.
#   scripts/test.sh [meson test options, e.g. --suite unit]
# Ends with "N passed, N failed, N skipped" (pytest and cmocka cases, see
# scripts/count-cases.py); exits non-zero when a case failed, or, with
# CI=true, when one skipped.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# kubectl is not in Debian 12 in a version the tests can use (its
# kubernetes-client is 1.20: no `patch --subresource`, no kustomize
# components, no `create token`). Without it the controller goes untested,
# so nothing runs.
kubectl_version() {  # "1.32 1032" (major*1000 + minor to compare), or nothing
  kubectl version --client -o json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
v = json.load(sys.stdin)["clientVersion"]
major, minor = int(v["major"]), int("".join(c for c in v["minor"] if c.isdigit()))
print(f"{major}.{minor}", major * 1000 + minor)' 2>/dev/null || true
}
read -r kubectl_ver kubectl_num < <(kubectl_version) || true
if ! command -v kubectl >/dev/null 2>&1 || (( ${kubectl_num:-0} < 1024 )); then
  found=$(command -v kubectl || true)
  echo "test: kubectl 1.24 or newer is needed on PATH${found:+ (found $found: ${kubectl_ver:-no version})}." >&2
  echo "test: Debian 12's kubernetes-client (1.20) is too old; install kubectl from" >&2
  echo "test: https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/ (the pkgs.k8s.io" >&2
  echo "test: Debian repository, or the single binary into /usr/local/bin), then run again." >&2
  exit 2
fi

source "$top/scripts/setup.sh"
cd "$top"
# runs SUITE: true when the arguments run that suite (no --suite given, or
# --suite SUITE among them)
runs() {
  local a prev="" any=0
  for a in "${args[@]}"; do
    [[ "$a" == --suite || "$a" == --suite=* ]] && any=1
    [[ "$a" == "--suite=$1" || ("$prev" == --suite && "$a" == "$1") ]] && return 0
    prev=$a
  done
  ((any == 0))
}
args=("$@")
# The suite "real" needs kube-apiserver and kube-controller-manager: built
# once per machine from Debian's source package (cached by version), before
# the tests start, when that suite runs.
if runs real; then
  echo "test: kube-apiserver and kube-controller-manager in $(tests/kube-real/cluster.sh build)" >&2
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 "$@" || status=1
# The unit suite once more under valgrind memcheck: the test setup
# "valgrind" of tests/meson.build, which builds with sanitizers do not have.
if runs unit && meson test -C "$BUILD_DIR" --setup valgrind --list --no-rebuild >/dev/null 2>&1; then
  meson test -C "$BUILD_DIR" --setup valgrind --print-errorlogs --num-processes 2 || status=1
fi
/usr/bin/python3 "$top/scripts/count-cases.py" "$BUILD_DIR" || status=1
exit $status
