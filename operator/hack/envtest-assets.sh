#!/usr/bin/env bash
# Prints the directory holding kube-apiserver and etcd for envtest.
#
# First choice, as in kubebuilder projects: controller-runtime's setup-envtest
# downloads the release binaries (about 100 MB). Where its download host
# cannot be reached (air-gapped, or only a Go module proxy, as on this
# project's CI) they are built from Go modules instead: ~10 min on 2 cores,
# once. The reachability check gives up after a few seconds, so an
# air-gapped first run loses no time waiting. Everything is cached outside
# the checkout.
#   MULTINIC_ENVTEST=download|build   use only that way
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

kube_version=$(awk '/^require k8s.io\/kubernetes/ {print $3}' "$here/tools/kube-apiserver/go.mod")
etcd_version=$(awk '/^require go.etcd.io\/etcd\/server\/v3/ {print $3}' "$here/tools/etcd/go.mod")
built="$cache/envtest/kube-$kube_version-etcd-$etcd_version"
downloaded="$cache/envtest/setup-envtest"
# The minor of the kube-apiserver we would build; setup-envtest takes the
# newest patch release of it.
release=$(echo "$kube_version" | sed -E 's/^v([0-9]+\.[0-9]+)\..*/\1.x/')
index=${ENVTEST_INDEX:-https://raw.githubusercontent.com/kubernetes-sigs/controller-tools/HEAD/envtest-releases.yaml}
mode=${MULTINIC_ENVTEST:-}
case "$mode" in ""|download|build) ;; *) echo "envtest: MULTINIC_ENVTEST=$mode: use download or build" >&2; exit 2 ;; esac

mkdir -p "$built" "$downloaded"
lock "$cache/envtest/.lock" envtest

have_built() { [ -x "$built/kube-apiserver" ] && [ -x "$built/etcd" ]; }

if [ "$mode" != download ] && have_built; then
  echo "$built"
  exit 0
fi

# fetched prints the directory of a release setup-envtest fetched before.
fetched() {
  local d found= platform
  platform=$(go env GOOS)-$(go env GOARCH)
  for d in "$downloaded/k8s/${release%.x}".*-"$platform"; do
    [ -x "$d/kube-apiserver" ] && [ -x "$d/etcd" ] && found=$d
  done
  [ -n "$found" ] && echo "$found"
}

# download prints setup-envtest's directory, or fails within seconds when
# the download host is unreachable, before installing anything.
download() {
  local tool path start=$SECONDS
  if ! command -v curl >/dev/null; then
    echo "envtest: no curl to check whether the envtest releases can be downloaded" >&2
    return 1
  fi
  if ! curl -fsS -o /dev/null --connect-timeout 5 --max-time 20 "$index" 2>/dev/null; then
    echo "envtest: the envtest releases ($index) cannot be reached (gave up after $((SECONDS - start))s)" >&2
    return 1
  fi
  echo "envtest: downloading kube-apiserver and etcd $release with setup-envtest (first time only)..." >&2
  tool=$("$here/tool.sh" setup-envtest) || return 1
  path=$("$tool" use "$release" --index "$index" --bin-dir "$downloaded" -p path) || return 1
  echo "envtest: downloaded in $((SECONDS - start))s" >&2
  echo "$path"
}

if [ "$mode" != build ]; then
  if path=$(fetched || download) && [ -n "$path" ]; then
    echo "$path"
    exit 0
  fi
  if [ "$mode" = download ]; then
    echo "envtest: MULTINIC_ENVTEST=download, and the download failed" >&2
    exit 1
  fi
  echo "envtest: building from Go modules instead" >&2
fi

build() { # name module-dir package
  local name=$1 src=$2 pkg=$3
  [ -x "$built/$name" ] && return 0
  echo "envtest: building $name from Go modules (first time only; ~10 min on 2 cores)..." >&2
  local start=$SECONDS
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$built/$name.tmp" "$pkg") >&2
  mv "$built/$name.tmp" "$built/$name"
  echo "envtest: built $name in $((SECONDS - start))s" >&2
}
build etcd "$here/tools/etcd" .
build kube-apiserver "$here/tools/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
echo "$built"
