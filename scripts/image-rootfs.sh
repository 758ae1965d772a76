#!/usr/bin/env bash
# Lays out the controller image's root filesystem: the binary, the shared
# libraries ldd names for it, the CA certificates, and a passwd/group entry
# for the numeric non-root user. No shell, no package manager, nothing else.
# scripts/image.sh and the Dockerfile both build the image from this folder.
#
#   scripts/image-rootfs.sh BINARY ROOTFS
#
# BINARY is a built unseal-controller; ROOTFS must not exist yet or be empty.
# Prints the files it copied, one a line, to stdout.
set -euo pipefail

# The image's user: numeric, so the kubelet can enforce runAsNonRoot without
# reading /etc/passwd (the Dockerfile's USER says the same; a test checks it).
IMAGE_UID=65532
IMAGE_GID=65532
ENTRYPOINT=/usr/local/bin/unseal-controller
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

die() { echo "image-rootfs: $*" >&2; exit 2; }

(($# == 2)) || die "usage: scripts/image-rootfs.sh BINARY ROOTFS"
binary=$1
rootfs=$2
[[ -f "$binary" && -x "$binary" ]] || die "'$binary' is not an executable file"
if [[ -e "$rootfs" ]] && [[ -n "$(ls -A "$rootfs")" ]]; then
  die "'$rootfs' exists and is not empty"
fi
command -v ldd >/dev/null || die "ldd is not installed (Debian package libc-bin)"
[[ -r "$CA_BUNDLE" ]] || die "'$CA_BUNDLE' is missing (Debian package ca-certificates)"

# Copies a file from the host to the same path under the root filesystem,
# following symbolic links (the image holds the files under the names the
# dynamic loader asks for).
copy() {
  local src=$1 dst="$rootfs$1"
  mkdir -p "$(dirname "$dst")"
  cp -L --preserve=mode "$src" "$dst"
  echo "$src"
}

mkdir -p "$rootfs"
# Debian 12 merges /usr: /lib and /lib64 are links into /usr, as on the host,
# so the loader's compiled-in paths and the binary's interpreter both resolve.
mkdir -p "$rootfs/usr/lib" "$rootfs/usr/lib64"
ln -s usr/lib "$rootfs/lib"
ln -s usr/lib64 "$rootfs/lib64"

install -D -m 0755 "$binary" "$rootfs$ENTRYPOINT"
echo "$ENTRYPOINT"

# Every library ldd resolves, and the interpreter. A library ldd cannot find
# is an error: the controller would not start.
ldd_out=$(ldd "$binary") || die "ldd '$binary' failed"
if grep -q "not found" <<<"$ldd_out"; then
  die "ldd cannot find a library of '$binary': $(grep 'not found' <<<"$ldd_out" | head -n1)"
fi
while read -r path; do
  [[ -n "$path" ]] || continue
  # under merged /usr the host's /lib/... is /usr/lib/...: place it there
  case "$path" in
    /lib/*|/lib64/*) copy_to="/usr$path" ;;
    *) copy_to=$path ;;
  esac
  mkdir -p "$(dirname "$rootfs$copy_to")"
  cp -L --preserve=mode "$path" "$rootfs$copy_to"
  echo "$path"
done < <(sed -n -e 's/^.*=> \(\/[^ ]*\) (0x[0-9a-f]*)$/\1/p' \
               -e 's/^[[:space:]]*\(\/[^ ]*\) (0x[0-9a-f]*)$/\1/p' <<<"$ldd_out" | sort -u)

copy "$CA_BUNDLE"

# The user and group, so that tools (and logs) show a name; no shell.
mkdir -p "$rootfs/etc"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/nonexistent:/sbin/nologin\n' \
  "$IMAGE_UID" "$IMAGE_GID" >"$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:%d:\n' "$IMAGE_GID" >"$rootfs/etc/group"
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"

# Mount points a runtime expects, and a world-writable /tmp.
mkdir -p "$rootfs/proc" "$rootfs/dev" "$rootfs/sys" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
