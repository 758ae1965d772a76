#!/usr/bin/env bash
# A real Kubernetes control plane for the test suite, built offline from
# Debian 12's `kubernetes` source package (upstream v1.20 with vendor/).
#
#   cluster.sh build      fetch, patch and build kube-apiserver and
#                         kube-controller-manager once; prints the folder of
#                         the binaries. Cached by source version, so later
#                         runs return at once.
#   cluster.sh bin        prints the folder of the cached binaries (fails if
#                         they are not built)
#   cluster.sh up DIR     etcd, kube-apiserver (TLS, RBAC, a static admin
#                         token, client certificates, ServiceAccount signing)
#                         and kube-controller-manager on 127.0.0.1, free ports;
#                         writes DIR/kubeconfig and DIR/env; prints
#                         "ready https://127.0.0.1:PORT" once /readyz answers.
#                         The daemons stay running detached, logs in DIR.
#   cluster.sh down DIR   stops what `up DIR` started
#   cluster.sh stop|start DIR NAME
#                         stops or starts again one daemon of DIR (etcd,
#                         kube-apiserver, kube-controller-manager)
#
# Environment:
#   SEAL_KUBE_CACHE   cache folder (default /var/cache/seal-kube-real when
#                     writable, else ~/.cache/seal-kube-real)
set -euo pipefail

# Bumped whenever the patches or build flags below change, so a cached build
# made by an older recipe is not reused.
recipe=1

die() { echo "cluster.sh: $*" >&2; exit 1; }

cache_root() {
  if [[ -n "${SEAL_KUBE_CACHE:-}" ]]; then
    echo "$SEAL_KUBE_CACHE"
  elif mkdir -p /var/cache/seal-kube-real 2>/dev/null && [[ -w /var/cache/seal-kube-real ]]; then
    echo /var/cache/seal-kube-real
  else
    echo "${XDG_CACHE_HOME:-$HOME/.cache}/seal-kube-real"
  fi
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# apt-get, serialised on $SEAL_APT_LOCK when set (machines where several
# jobs share one package database)
apt_get() {
  if [[ -n "${SEAL_APT_LOCK:-}" ]]; then
    as_root flock "$SEAL_APT_LOCK" apt-get "$@"
  else
    as_root apt-get "$@"
  fi
}

need_packages() {
  local missing=() p status
  for p in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "cluster.sh: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt_get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
}

# The newest version of the kubernetes source package apt knows, after adding
# a deb-src entry (same mirror as the configured bookworm deb entry) if none
# is there.
source_version() {
  local v
  v=$(apt-cache showsrc kubernetes 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -1)
  if [[ -z "$v" ]]; then
    local uri
    uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
          awk '$2 == "bookworm" { print $1; exit }')
    [[ -n "$uri" ]] || uri=http://deb.debian.org/debian/
    echo "cluster.sh: adding deb-src $uri bookworm main" >&2
    as_root tee /etc/apt/sources.list.d/seal-kube-src.sources >/dev/null <<EOF
Types: deb-src
URIs: $uri
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt_get update -qq >/dev/null
    v=$(apt-cache showsrc kubernetes 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -1)
  fi
  [[ -n "$v" ]] || die "apt knows no source package named kubernetes"
  echo "$v"
}

bin_dir_for() { echo "$(cache_root)/$1-r$recipe/bin"; }

cmd_bin() {
  local v d
  v=$(apt-cache showsrc kubernetes 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -1)
  [[ -n "$v" ]] || die "no kubernetes source package known to apt; run 'cluster.sh build'"
  d=$(bin_dir_for "$v")
  [[ -x "$d/kube-apiserver" && -x "$d/kube-controller-manager" ]] ||
    die "not built yet; run 'cluster.sh build'"
  echo "$d"
}

cmd_build() {
  need_packages golang-go etcd-server etcd-client golang-github-modern-go-reflect2-dev \
    dpkg-dev openssl curl rsync make
  local version root top bin src t0
  version=$(source_version)
  root="$(cache_root)/$version-r$recipe"
  bin="$root/bin"
  if [[ -x "$bin/kube-apiserver" && -x "$bin/kube-controller-manager" ]]; then
    echo "$bin"
    return 0
  fi
  t0=$(date +%s)
  mkdir -p "$root"
  exec 9>"$root/.lock"
  flock 9
  if [[ -x "$bin/kube-apiserver" && -x "$bin/kube-controller-manager" ]]; then
    echo "$bin"
    return 0
  fi
  rm -rf "$root/src"
  mkdir -p "$root/src"
  # apt downloads as _apt when it can write there (else it warns)
  if [[ $(id -u) -eq 0 ]] && id _apt >/dev/null 2>&1; then chown _apt "$root/src"; fi
  echo "cluster.sh: fetching the kubernetes $version source package" >&2
  (cd "$root/src" && apt-get source -qq --download-only "kubernetes=$version" >/dev/null &&
   dpkg-source -x --no-check ./*.dsc tree >/dev/null)
  src="$root/src/tree"
  [[ -f "$src/cmd/kube-apiserver/apiserver.go" ]] || die "unexpected source layout in $src"

  # Fix 1: the vendored github.com/modern-go/reflect2 1.0.1 crashes under
  # Go >= 1.18 (SIGSEGV in runtime.mapiterinit on the first custom resource
  # create). Debian's 1.0.2 is the upstream fix.
  local r2=/usr/share/gocode/src/github.com/modern-go/reflect2
  [[ -f "$r2/reflect2.go" ]] || die "$r2 is missing (golang-github-modern-go-reflect2-dev)"
  rm -rf "$src/vendor/github.com/modern-go/reflect2"
  mkdir -p "$src/vendor/github.com/modern-go/reflect2"
  find "$r2" -maxdepth 1 -name '*.go' ! -name '*_test.go' \
    -exec cp {} "$src/vendor/github.com/modern-go/reflect2/" \;
  find "$r2" -maxdepth 1 -name '*.s' -exec cp {} "$src/vendor/github.com/modern-go/reflect2/" \;

  # Fix 2: go-openapi's type validator compares a value with reflect.Zero of
  # its type and calls it null; under Go 1.19 that makes every empty string
  # null, so a custom resource with `message: ""` is refused. A real cluster
  # accepts empty strings: drop that comparison (both vendored copies).
  local f n
  for f in "$src/vendor/github.com/go-openapi/validate/type.go" \
           "$src/vendor/k8s.io/kube-openapi/pkg/validation/validate/type.go"; do
    [[ -f "$f" ]] || continue
    n=$(grep -c 'reflect.Zero' "$f" || true)
    [[ "$n" -ge 1 ]] || die "$f: no reflect.Zero comparison to remove (source changed?)"
    sed -i -E 's/[[:space:]]*\|\|[[:space:]]*reflect\.DeepEqual\(reflect\.Zero\(.*\)\)[[:space:]]*\{$/ {/' "$f"
    ! grep -q 'reflect.Zero' "$f" || die "$f: could not remove the reflect.Zero comparison"
    # reflect may now be unused in that file
    if ! grep -q 'reflect\.' "$f"; then sed -i '/^[[:space:]]*"reflect"$/d' "$f"; fi
  done

  local upstream gomajor gominor
  upstream=${version#*really}
  upstream=${upstream%%-*}
  upstream=${upstream%%+*}
  gomajor=${upstream%%.*}
  gominor=${upstream#*.}
  gominor=${gominor%%.*}
  local ld=""
  local pkg
  # v1.20 builds in GOPATH mode (as its hack/lib/golang.sh does), the tree
  # being k8s.io/kubernetes, so vendored packages carry the vendor/ prefix.
  for pkg in k8s.io/kubernetes/vendor/k8s.io/component-base/version \
             k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=v$upstream -X $pkg.gitMajor=$gomajor -X $pkg.gitMinor=$gominor"
    ld+=" -X $pkg.gitTreeState=archive -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "cluster.sh: building kube-apiserver and kube-controller-manager v$upstream" \
       "(about 8 minutes on 2 cores, 1.4 GB of memory)" >&2
  # pkg/generated/openapi is generated at build time (not in the tarball);
  # make runs openapi-gen as upstream's build does.
  (cd "$src" &&
   GOCACHE="$root/gocache" KUBE_GIT_VERSION="v$upstream" KUBE_GIT_TREE_STATE=archive \
   GOPROXY=off GOTOOLCHAIN=local nice -n 10 make gen_openapi) >"$root/gen.log" 2>&1 ||
    { tail -40 "$root/gen.log" >&2; die "openapi generation failed (log: $root/gen.log)"; }
  mkdir -p "$root/out" "$root/gopath/src/k8s.io"
  ln -sfn "$src" "$root/gopath/src/k8s.io/kubernetes"
  (cd "$root/gopath/src/k8s.io/kubernetes" &&
   CGO_ENABLED=0 GOFLAGS="-p=2" GOPATH="$root/gopath" GOCACHE="$root/gocache" \
   GOPROXY=off GO111MODULE=off GOTOOLCHAIN=local \
   nice -n 10 go build -trimpath -ldflags "-s -w$ld" -o "$root/out/" \
     k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager) \
    >"$root/build.log" 2>&1 ||
    { tail -40 "$root/build.log" >&2; die "build failed (log: $root/build.log)"; }
  rm -rf "$bin"
  mv "$root/out" "$bin"
  # The tree and the Go cache are not needed once the binaries exist.
  rm -rf "$root/src" "$root/gocache" "$root/gopath"
  echo "cluster.sh: built in $(( $(date +%s) - t0 )) s" >&2
  echo "$bin"
}

free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# One client certificate signed by the cluster CA: folder, name, CN, O.
client_cert() {
  local dir=$1 name=$2 cn=$3 org=$4
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/$name.key" -subj "/O=$org/CN=$cn" -out "$dir/$name.csr" 2>/dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 30 -sha256 -out "$dir/$name.crt" \
    -extfile <(printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n') 2>/dev/null
  rm -f "$dir/$name.csr"
}

write_kubeconfig() {
  local out=$1 url=$2 dir=$3 name=$4
  cat >"$out" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: seal-real
  cluster:
    server: $url
    certificate-authority: $dir/pki/ca.crt
users:
- name: $name
  user:
    client-certificate: $dir/pki/$name.crt
    client-key: $dir/pki/$name.key
contexts:
- name: seal-real
  context:
    cluster: seal-real
    user: $name
current-context: seal-real
KUBECONFIG
  chmod 600 "$out"
}

# Starts one daemon detached from the caller, its command line kept in
# DIR/NAME.cmd so that `cluster.sh start DIR NAME` runs it again.
start_daemon() {
  local dir=$1 name=$2
  [[ -f "$dir/$name.cmd" ]] || die "$dir/$name.cmd: no such daemon"
  local -a argv
  mapfile -t argv <"$dir/$name.cmd"
  setsid "${argv[@]}" </dev/null >>"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
}

stop_daemon() {
  local dir=$1 name=$2 pid i
  [[ -f "$dir/$name.pid" ]] || return 0
  pid=$(<"$dir/$name.pid")
  rm -f "$dir/$name.pid"
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# Waits until URL answers 200 to the administrator; fails after LIMIT s.
wait_ok() {
  local dir=$1 url=$2 limit=$3 name=$4 i
  for ((i = 0; i < limit * 5; i++)); do
    if curl -sf --max-time 2 --cacert "$dir/pki/ca.crt" \
         -H "Authorization: Bearer $(<"$dir/admin.token")" "$url" >/dev/null 2>&1; then
      return 0
    fi
    if [[ ! -f "$dir/$name.pid" ]] || ! kill -0 "$(<"$dir/$name.pid")" 2>/dev/null; then
      tail -20 "$dir/$name.log" >&2
      die "$name exited (log: $dir/$name.log)"
    fi
    sleep 0.2
  done
  tail -20 "$dir/$name.log" >&2
  die "$url did not answer within $limit s (log: $dir/$name.log)"
}

wait_etcd() {
  local dir=$1 i
  for ((i = 0; i < 300; i++)); do
    curl -sf --max-time 2 "$(<"$dir/etcd.url")/health" 2>/dev/null | grep -q '"true"' && return 0
    if [[ ! -f "$dir/etcd.pid" ]] || ! kill -0 "$(<"$dir/etcd.pid")" 2>/dev/null; then
      tail -20 "$dir/etcd.log" >&2
      die "etcd exited (log: $dir/etcd.log)"
    fi
    sleep 0.2
  done
  die "etcd did not become healthy (log: $dir/etcd.log)"
}

cmd_up() {
  local dir=${1:-}
  [[ -n "$dir" ]] || die "usage: cluster.sh up DIR"
  local bin
  bin=$(cmd_build)
  command -v etcd >/dev/null || die "etcd is not installed (etcd-server)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [[ ! -f "$dir/kube-apiserver.pid" ]] || die "$dir holds a running cluster (cluster.sh down $dir)"
  local pki=$dir/pki
  mkdir -p "$pki"
  chmod 700 "$dir" "$pki"
  local etcd_port peer_port api_port
  read -r etcd_port peer_port api_port < <(free_ports 3)
  local url=https://127.0.0.1:$api_port

  # A CA, the API server's serving certificate, client certificates for the
  # administrator and the controller manager, the ServiceAccount signing key.
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 30 -subj "/CN=seal-real-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$pki/apiserver.key" -subj "/CN=kube-apiserver" -out "$pki/apiserver.csr" 2>/dev/null
  openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
    -CAcreateserial -days 30 -sha256 -out "$pki/apiserver.crt" -extfile <(printf '%s\n' \
      'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' \
      'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc') \
    2>/dev/null
  rm -f "$pki/apiserver.csr"
  client_cert "$pki" admin admin system:masters
  client_cert "$pki" controller-manager system:kube-controller-manager system:masters
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  openssl rand -hex 24 >"$dir/admin.token"
  printf '%s,admin-token,admin-token-uid,system:masters\n' "$(<"$dir/admin.token")" >"$pki/tokens.csv"
  chmod 600 "$pki"/*.key "$pki/tokens.csv" "$dir/admin.token"
  write_kubeconfig "$dir/kubeconfig" "$url" "$dir" admin
  write_kubeconfig "$dir/controller-manager.kubeconfig" "$url" "$dir" controller-manager

  echo "http://127.0.0.1:$etcd_port" >"$dir/etcd.url"
  echo "$url" >"$dir/url"
  printf '%s\n' "$(command -v etcd)" --name=default --data-dir="$dir/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" \
    --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-cluster="default=http://127.0.0.1:$peer_port" \
    --log-level=warn --logger=zap >"$dir/etcd.cmd"
  # --etcd-compaction-interval=0: only the tests compact etcd.
  # --endpoint-reconciler-type=none: the kubernetes Service may not point to
  # a loopback address.
  printf '%s\n' "$bin/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --secure-port="$api_port" --insecure-port=0 \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" --token-auth-file="$pki/tokens.csv" \
    --authorization-mode=Node,RBAC \
    --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-cluster-ip-range=10.96.0.0/16 \
    --endpoint-reconciler-type=none \
    --etcd-compaction-interval=0 \
    --profiling=false --v=1 >"$dir/kube-apiserver.cmd"
  # --port=0 --secure-port=0: the controller manager serves nothing.
  printf '%s\n' "$bin/kube-controller-manager" \
    --kubeconfig="$dir/controller-manager.kubeconfig" \
    --controllers=garbagecollector,namespace,serviceaccount,serviceaccount-token \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --bind-address=127.0.0.1 --port=0 --secure-port=0 --leader-elect=false \
    --profiling=false --v=1 >"$dir/kube-controller-manager.cmd"

  start_daemon "$dir" etcd
  wait_etcd "$dir"
  start_daemon "$dir" kube-apiserver
  wait_ok "$dir" "$url/readyz" 120 kube-apiserver
  start_daemon "$dir" kube-controller-manager
  # The controller manager works once it has made the default ServiceAccount.
  wait_ok "$dir" "$url/api/v1/namespaces/default/serviceaccounts/default" 120 kube-controller-manager
  echo "ready $url"
}

cmd_down() {
  local dir=${1:-}
  [[ -n "$dir" && -d "$dir" ]] || die "usage: cluster.sh down DIR"
  stop_daemon "$dir" kube-controller-manager
  stop_daemon "$dir" kube-apiserver
  stop_daemon "$dir" etcd
}

cmd_stop() {
  [[ $# -eq 2 ]] || die "usage: cluster.sh stop DIR NAME"
  stop_daemon "$1" "$2"
}

cmd_start() {
  [[ $# -eq 2 ]] || die "usage: cluster.sh start DIR NAME"
  start_daemon "$1" "$2"
  case $2 in
    etcd) wait_etcd "$1" ;;
    kube-apiserver) wait_ok "$1" "$(<"$1/url")/readyz" 120 kube-apiserver ;;
  esac
}

case "${1:-}" in
  build) cmd_build ;;
  bin) cmd_bin ;;
  up) cmd_up "${2:-}" ;;
  down) cmd_down "${2:-}" ;;
  stop) shift; cmd_stop "$@" ;;
  start) shift; cmd_start "$@" ;;
  *) die "usage: cluster.sh build | bin | up DIR | down DIR | stop DIR NAME | start DIR NAME" ;;
esac
