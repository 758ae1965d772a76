#!/usr/bin/env bash
# Ties the controller image's tag to a Git commit and prints the command that
# builds it. No container engine runs here; run the printed command where one
# does (CI).
#
#   scripts/release.sh [--tag-only] [--allow-dirty] [--image NAME]
#
# The tag:
#   HEAD carries the tag vX.Y.Z     -> vX.Y.Z (it must match meson.build's version)
#   commits after the last v* tag   -> git describe: vX.Y.Z-N-g<12 hex of the commit>
#   no v* tag yet                   -> v<meson.build version>-0-g<12 hex of the commit>
# Every form is immutable and names a commit; none is ever "latest". A tree
# with uncommitted changes is refused (the image would not match any commit)
# unless --allow-dirty, which marks the tag -dirty.
#
# Output (stdout): the docker build command, or with --tag-only the tag alone.
#   IMAGE  the repository (default registry.example.com/seal/unseal-controller)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
image=${IMAGE:-registry.example.com/seal/unseal-controller}
tag_only=0
allow_dirty=0

die() { echo "release: $*" >&2; exit 2; }

while (($#)); do
  case "$1" in
    --tag-only) tag_only=1 ;;
    --allow-dirty) allow_dirty=1 ;;
    --image) shift; (($#)) || die "--image needs a value"; image=$1 ;;
    --image=*) image=${1#--image=} ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1'" ;;
  esac
  shift
done

cd "$top"
git rev-parse --verify -q HEAD >/dev/null || die "'$top' is not a Git checkout with a commit"

version=$(sed -n "s/^ *version: *'\([0-9][0-9.]*\)'.*/\1/p" meson.build | head -n1)
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "meson.build: no project version found"

revision=$(git rev-parse HEAD)
dirty=""
if [[ -n "$(git status --porcelain --untracked-files=no)" ]]; then
  ((allow_dirty)) || die "the tree has uncommitted changes: commit them, or pass --allow-dirty"
  dirty="-dirty"
fi

if exact=$(git describe --tags --exact-match --match 'v[0-9]*' HEAD 2>/dev/null); then
  [[ "$exact" == "v$version" ]] ||
    die "HEAD is tagged '$exact' but meson.build says version '$version'"
  tag=$exact
elif described=$(git describe --tags --long --abbrev=12 --match 'v[0-9]*' HEAD 2>/dev/null); then
  tag=$described
else
  tag="v$version-0-g$(git rev-parse --short=12 HEAD)"
fi
tag+=$dirty

if ((tag_only)); then
  echo "$tag"
  exit 0
fi

printf 'docker build --pull --build-arg VERSION=%s --build-arg REVISION=%s --tag %s:%s %q\n' \
  "${tag#v}" "$revision" "$image" "$tag" "$top"
echo "release: then pin it: in examples/kustomize/<overlay>, images[].newTag: $tag" >&2
