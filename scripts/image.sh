#!/usr/bin/env bash
# Builds the unseal-controller image offline, as an OCI image layout, with no
# container engine and no registry: a release build of the controller, its
# root filesystem from scripts/image-rootfs.sh (the binary, the libraries ldd
# names, CA certificates, passwd/group for the numeric user), one layer and
# the image configuration written by umoci. The Dockerfile describes the same
# image for those who build with an engine (tests/examples/test_image.py
# checks that the two agree).
#
#   scripts/image.sh --output DIR [--binary FILE] [--build-dir DIR] [--allow-dirty]
#
#   --output DIR     the OCI image layout to write (must not exist or be empty)
#   --binary FILE    an unseal-controller already built, instead of building
#   --build-dir DIR  the release build folder (default: build-release)
#   --allow-dirty    passed to scripts/release.sh: a tree with uncommitted
#                    changes gives a -dirty tag instead of an error
#
# The image is tagged with scripts/release.sh's tag (vX.Y.Z or
# vX.Y.Z-N-g<commit>); its labels carry the version (the tag without the v)
# and the commit. Copy it to a registry with skopeo:
#   skopeo copy oci:DIR:TAG docker://REGISTRY/seal/unseal-controller:TAG
# Prints "DIR:TAG" on stdout and the sizes on stderr. Needs umoci (Debian
# package umoci, installed by scripts/setup.sh).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
output=""
binary=""
build_dir="build-release"
release_args=()

die() { echo "image: $*" >&2; exit 2; }

while (($#)); do
  case "$1" in
    --output) shift; (($#)) || die "--output needs a value"; output=$1 ;;
    --output=*) output=${1#--output=} ;;
    --binary) shift; (($#)) || die "--binary needs a value"; binary=$1 ;;
    --binary=*) binary=${1#--binary=} ;;
    --build-dir) shift; (($#)) || die "--build-dir needs a value"; build_dir=$1 ;;
    --build-dir=*) build_dir=${1#--build-dir=} ;;
    --allow-dirty) release_args+=(--allow-dirty) ;;
    -h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1'" ;;
  esac
  shift
done
[[ -n "$output" ]] || die "--output DIR is required"
if [[ -e "$output" ]] && [[ ! -d "$output" || -n "$(ls -A "$output")" ]]; then
  die "'$output' exists and is not an empty folder"
fi
command -v umoci >/dev/null || die "umoci is not installed (Debian package umoci; scripts/setup.sh installs it)"

tag=$("$top/scripts/release.sh" --tag-only "${release_args[@]}")
version=${tag#v}
revision=$(git -C "$top" rev-parse HEAD)

if [[ -z "$binary" ]]; then
  # The Dockerfile's build: meson with the release build type, then ninja.
  cd "$top"
  if [[ ! -f "$build_dir/build.ninja" ]]; then
    meson setup "$build_dir" --buildtype=release >&2
  fi
  ninja -C "$build_dir" unseal-controller/unseal-controller >&2
  binary="$build_dir/unseal-controller/unseal-controller"
  cd - >/dev/null
fi
[[ -x "$binary" ]] || die "'$binary' is not an executable file"

work=$(mktemp -d "${TMPDIR:-/tmp}/seal-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$top/scripts/image-rootfs.sh" "$binary" "$work/rootfs" >/dev/null

[[ ! -d "$output" ]] || rmdir "$output" # umoci creates it
mkdir -p "$(dirname "$output")"
umoci init --layout "$output"
umoci new --image "$output:$tag"
# One layer: the whole root filesystem, owned by root (the user runs it).
# (umoci repack of an unpacked bundle, not umoci insert: 0.4.7's insert
# leaves the layer's tar without its last blocks.)
umoci unpack --image "$output:$tag" "$work/bundle" >/dev/null
cp -a "$work/rootfs/." "$work/bundle/rootfs/"
umoci repack --image "$output:$tag" --history.created_by "scripts/image.sh: scripts/image-rootfs.sh" \
  "$work/bundle"

# The Dockerfile's runtime stage, instruction by instruction.
labels=(
  "org.opencontainers.image.title=unseal-controller"
  "org.opencontainers.image.description=seal: turns SealedSecrets into Secrets in the cluster"
  "org.opencontainers.image.version=$version"
  "org.opencontainers.image.revision=$revision"
  "org.opencontainers.image.licenses=Apache-2.0"
)
config=(--config.user 65532:65532
        --config.entrypoint /usr/local/bin/unseal-controller
        --config.exposedports 8080/tcp --config.exposedports 8081/tcp
        --architecture "$(dpkg --print-architecture)" --os linux
        --history.created_by "scripts/image.sh: user, entrypoint, ports, labels")
for l in "${labels[@]}"; do
  config+=(--config.label "$l" --manifest.annotation "$l")
done
umoci config --image "$output:$tag" "${config[@]}"
umoci gc --layout "$output"

layers=$(du -sb "$output/blobs" | cut -f1)
unpacked=$(du -sb "$work/rootfs" | cut -f1)
echo "image: $output:$tag: $layers bytes in the layout (compressed), $unpacked bytes unpacked" >&2
echo "$output:$tag"
