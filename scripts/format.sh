#!/usr/bin/env bash
# Formats every tracked C source (.c, .h) with the repository's .clang-format.
#   scripts/format.sh          rewrites the files that differ, and names them
#   scripts/format.sh --check  changes nothing; names the files that differ
#                              and exits 1 when there are any (CI, .ci/run)
# clang-format 14 (Debian 12's, installed by scripts/setup.sh) is the
# reference: other versions format some constructs differently, so they are
# refused. CLANG_FORMAT names another binary (e.g. clang-format-14).
# The tree holds no vendored or generated C (seal-version.h is generated into
# the build folder), so every tracked .c and .h is formatted.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: scripts/format.sh [--check]" >&2; exit 2 ;;
esac

cf=${CLANG_FORMAT:-clang-format}
if ! command -v "$cf" >/dev/null 2>&1; then
  echo "format: $cf is not installed (Debian package clang-format; scripts/setup.sh installs it)" >&2
  exit 2
fi
version=$("$cf" --version | sed -n 's/.*clang-format version \([0-9]*\)\..*/\1/p')
if [[ "$version" != 14 ]]; then
  echo "format: clang-format 14 is the reference, $cf is version ${version:-unknown}" \
       "(set CLANG_FORMAT to a clang-format 14)" >&2
  exit 2
fi

mapfile -t files < <(git ls-files -- '*.c' '*.h')
differ=()
for f in "${files[@]}"; do
  if ! "$cf" --style=file "$f" | cmp -s - "$f"; then
    differ+=("$f")
  fi
done

if ((${#differ[@]} == 0)); then
  exit 0
fi
if ((check)); then
  echo "format: ${#differ[@]} of ${#files[@]} C files do not follow .clang-format" \
       "(scripts/format.sh rewrites them):" >&2
  printf '  %s\n' "${differ[@]}" >&2
  exit 1
fi
"$cf" --style=file -i "${differ[@]}"
echo "format: rewrote ${#differ[@]} of ${#files[@]} C files:" >&2
printf '  %s\n' "${differ[@]}" >&2
