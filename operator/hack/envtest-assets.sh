#!/usr/bin/env bash
# Prints the directory holding kube-apiserver and etcd for envtest, building
# them from Go modules on first use. Nothing can be downloaded here but Go
# modules, so envtest's usual prebuilt tarballs are not an option. The cache
# lives outside the checkout so fresh clones (CI) reuse it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kube_version=$(awk '/^require k8s.io\/kubernetes/ {print $3}' "$here/tools/kube-apiserver/go.mod")
etcd_version=$(awk '/^require go.etcd.io\/etcd\/server\/v3/ {print $3}' "$here/tools/etcd/go.mod")
cache=${MULTINIC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/multinic}
dir="$cache/envtest/kube-$kube_version-etcd-$etcd_version"

build() { # name module-dir package
  local name=$1 src=$2 pkg=$3
  [ -x "$dir/$name" ] && return 0
  echo "envtest: building $name from Go modules (first time only; ~10 min on 2 cores)..." >&2
  local start=$SECONDS
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$dir/$name.tmp" "$pkg") >&2
  mv "$dir/$name.tmp" "$dir/$name"
  echo "envtest: built $name in $((SECONDS - start))s" >&2
}

mkdir -p "$dir"
# Test binaries of several packages may ask at once on a fresh machine; one
# builds while the others wait for it.
exec 9>"$dir/.lock"
flock 9
build etcd "$here/tools/etcd" .
build kube-apiserver "$here/tools/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
echo "$dir"
