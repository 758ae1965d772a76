#!/usr/bin/env bash
# Seals the Kotaemon example's Secret kotaemon-llm (keys OPENAI_API_KEY and
# DB_PASSWORD) for one environment's cluster.
#
#   OPENAI_API_KEY=... DB_PASSWORD=... examples/kotaemon/reseal.sh staging|production
#       seals the values given in the environment with that cluster's public
#       key, environments/<env>/cert.pem, into environments/<env>/sealedsecret.yaml.
#       Fetch or refresh the key first with: seal cert -w environments/<env>/cert.pem
#
#   examples/kotaemon/reseal.sh --test-keys
#       for this repository's tests only: makes a new key pair for each
#       environment with `seal keys generate` (private halves in
#       tests/examples/keys/<env>.key, public halves in
#       environments/<env>/cert.pem), seals random values for both, and records
#       the values in tests/examples/keys/<env>.values for the end-to-end test.
#
#   SEAL  the seal binary (default: build-examples/seal/seal, else build/seal/seal,
#         else seal on PATH)
#
# The plain Secret exists only in a private temporary folder that is removed
# on exit; nothing is written when sealing fails (seal -w is atomic).
set -euo pipefail
umask 077

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)

die() { echo "reseal: $*" >&2; exit 2; }

if [[ -z "${SEAL:-}" ]]; then
  for candidate in "$top/build-examples/seal/seal" "$top/build/seal/seal"; do
    if [[ -x "$candidate" ]]; then SEAL=$candidate; break; fi
  done
  SEAL=${SEAL:-$(command -v seal || true)}
fi
[[ -n "$SEAL" && -x "$SEAL" ]] || die "no seal binary: build it (ninja -C build seal/seal) or set SEAL"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

b64() { printf '%s' "$1" | base64 -w0; }

# seal_env ENV OPENAI_API_KEY DB_PASSWORD
seal_env() {
  local env=$1 cert="$here/environments/$1/cert.pem"
  [[ -f "$cert" ]] || die "'$cert': no such file (seal cert -w $cert)"
  cat > "$tmp/secret.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: kotaemon-llm
  namespace: kotaemon
type: Opaque
data:
  OPENAI_API_KEY: $(b64 "$2")
  DB_PASSWORD: $(b64 "$3")
YAML
  "$SEAL" --cert "$cert" -f "$tmp/secret.yaml" -w "$here/environments/$env/sealedsecret.yaml"
  rm -f "$tmp/secret.yaml"
  echo "reseal: sealed kotaemon/kotaemon-llm for $env into environments/$env/sealedsecret.yaml" >&2
}

case "${1:-}" in
  staging|production)
    [[ -n "${OPENAI_API_KEY:-}" ]] || die "OPENAI_API_KEY is not set"
    [[ -n "${DB_PASSWORD:-}" ]] || die "DB_PASSWORD is not set"
    seal_env "$1" "$OPENAI_API_KEY" "$DB_PASSWORD"
    ;;
  --test-keys)
    keydir="$top/tests/examples/keys"
    mkdir -p "$keydir"
    for env in staging production; do
      "$SEAL" keys generate --force \
        --private-key "$keydir/$env.key" \
        --cert "$here/environments/$env/cert.pem"
      openai="test-$env-openai-$(openssl rand -hex 12)"
      db="test-$env-db-$(openssl rand -hex 12)"
      seal_env "$env" "$openai" "$db"
      printf 'OPENAI_API_KEY=%s\nDB_PASSWORD=%s\n' "$openai" "$db" > "$keydir/$env.values"
    done
    ;;
  *)
    die "usage: reseal.sh staging|production (values from OPENAI_API_KEY and DB_PASSWORD) | reseal.sh --test-keys"
    ;;
esac
