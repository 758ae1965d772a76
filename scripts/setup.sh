#!/usr/bin/env bash
# Installs the Debian 12 packages seal needs (only those missing) and
# configures a Meson build folder. Sourced by demo.sh and test.sh.
#   BUILD_DIR   build folder (default: build)
#   SANITIZE    1: AddressSanitizer and UndefinedBehaviorSanitizer
#   BUILDTYPE   meson buildtype (default: debugoptimized; bench/run.sh: release)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
SANITIZE=${SANITIZE:-0}
BUILDTYPE=${BUILDTYPE:-debugoptimized}

packages=(
  gcc clang clang-format pkg-config meson ninja-build
  libsodium-dev libyaml-dev libjansson-dev libcurl4-openssl-dev libmicrohttpd-dev libgnutls28-dev libssl-dev
  libcmocka-dev libclang-rt-14-dev
  python3 python3-pytest python3-cryptography openssl curl ca-certificates
  lua5.4 age valgrind
  umoci prometheus zsh
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# tests/cli/test_migrate.py runs a third party's kubeseal encoder from npm:
# Debian's nodejs and npm, unless a node with npm is installed already
if ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cd "$top"
opts=(--buildtype="$BUILDTYPE")
if [[ "$SANITIZE" == 1 ]]; then
  opts=(--buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false)
fi
# Quiet when all is well; the whole output when something fails.
quietly() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "setup: '$*' failed" >&2
    return 1
  fi
  rm -f "$log"
}
if [[ -f "$BUILD_DIR/build.ninja" ]]; then
  quietly meson setup --reconfigure "$BUILD_DIR" "${opts[@]}"
else
  quietly meson setup "$BUILD_DIR" "${opts[@]}"
fi
quietly ninja -C "$BUILD_DIR"
