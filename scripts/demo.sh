#!/usr/bin/env bash
# The main job, on one machine: seal a Kotaemon API key and let the
# controller unseal it.
#
# It sets everything up (Debian packages, build), starts the project's test
# API server as a stand-in cluster (TLS and a bearer token), installs the
# CRD, starts unseal-controller, seals a Kotaemon Secret with the public key
# the controller publishes, creates the SealedSecret with kubectl, and shows
# the Secret that appears and the SealedSecret's status. The plain Secret is
# made on the fly in a temporary folder and removed at the end.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$top/scripts/setup.sh"
cd "$top"

seal="$top/$BUILD_DIR/seal/seal"
controller="$top/$BUILD_DIR/unseal-controller/unseal-controller"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. offline: a key pair, a sealed Secret, and recovery with the private key"
"$seal" keys generate --private-key "$work/offline.key" --cert "$work/offline.pem"
cat > "$work/kotaemon-secret.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: kotaemon-llm
  namespace: kotaemon
type: Opaque
stringData:
  OPENAI_API_KEY: sk-demo-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
  DB_PASSWORD: $(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
YAML
"$seal" --cert "$work/offline.pem" -f "$work/kotaemon-secret.yaml" -w "$work/offline-sealed.yaml"
sed -n '1,20p' "$work/offline-sealed.yaml"
echo "... unsealed again with the private key (data is base64, as in any Secret):"
"$seal" unseal --private-key "$work/offline.key" -f "$work/offline-sealed.yaml" 2>/dev/null |
  grep -E 'name:|namespace:|OPENAI_API_KEY|DB_PASSWORD'

step "2. a stand-in cluster: the test API server over TLS with a token"
if ! command -v kubectl >/dev/null; then
  echo "kubectl is not installed: the cluster part of the demo needs it" >&2
  exit 1
fi
export HOME="$work/home" && mkdir -p "$HOME"
export KUBECONFIG="$work/kubeconfig"
python3 tests/kube-apiserver/server.py --port 0 --tls --token "demo-$RANDOM$RANDOM" \
  --kubeconfig-out "$KUBECONFIG" --namespace seal-system --namespace kotaemon \
  >"$work/apiserver.out" 2>"$work/apiserver.log" &
pids+=($!)
for _ in $(seq 100); do grep -q '^ready ' "$work/apiserver.out" 2>/dev/null && break; sleep 0.1; done
grep '^ready ' "$work/apiserver.out"
kubectl create -f examples/deploy/crd.yaml

step "3. unseal-controller: generates the first key and publishes it"
read -r http_port metrics_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
"$controller" --kubeconfig "$KUBECONFIG" --key-namespace seal-system \
  --listen "127.0.0.1:$http_port" --metrics-listen "127.0.0.1:$metrics_port" \
  >"$work/controller.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  kubectl -n seal-system get configmap seal-public-keys >/dev/null 2>&1 && break; sleep 0.1
done
kubectl -n seal-system get secrets -l seal.dev/key
"$seal" cert --kubeconfig "$KUBECONFIG"

step "4. seal the Kotaemon Secret with the cluster's key: safe to commit"
"$seal" --kubeconfig "$KUBECONFIG" -f "$work/kotaemon-secret.yaml" -w "$work/kotaemon-sealed.yaml"
cat "$work/kotaemon-sealed.yaml"
"$seal" scan "$work/kotaemon-sealed.yaml" && echo "seal scan: no plain-text Secret in the sealed file"

step "5. kubectl create the SealedSecret; the controller makes the Secret"
kubectl create -f "$work/kotaemon-sealed.yaml"
for _ in $(seq 100); do
  kubectl -n kotaemon get secret kotaemon-llm >/dev/null 2>&1 && break; sleep 0.1
done
kubectl -n kotaemon get secret kotaemon-llm -o yaml |
  sed -E 's/^(  (OPENAI_API_KEY|DB_PASSWORD)): .*/\1: <hidden>/'
want=$(grep OPENAI_API_KEY "$work/kotaemon-secret.yaml" | awk '{print $2}')
got=$(kubectl -n kotaemon get secret kotaemon-llm -o jsonpath='{.data.OPENAI_API_KEY}' | base64 -d)
[[ "$want" == "$got" ]] && echo "OPENAI_API_KEY in the cluster matches what was sealed"

step "6. the SealedSecret's status, as Argo CD reads it"
for _ in $(seq 50); do
  kubectl -n kotaemon get sealedsecret kotaemon-llm -o jsonpath='{.status.conditions}' | grep -q Synced && break
  sleep 0.1
done
kubectl -n kotaemon get sealedsecret kotaemon-llm -o jsonpath='{.status}'; echo
kubectl -n kotaemon get sealedsecrets
echo
echo "demo done: the plain Secret lived only in $work, which is now removed"
