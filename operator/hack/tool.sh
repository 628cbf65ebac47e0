#!/usr/bin/env bash
# Prints the path of a pinned build tool, installing it from the Go module
# proxy into a cache outside the checkout on first use.
#   operator/hack/tool.sh controller-gen|helm|kustomize
set -euo pipefail

cache=${MULTINIC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/multinic}
case "${1:-}" in
  controller-gen) pkg=sigs.k8s.io/controller-tools/cmd/controller-gen version=v0.23.0 ;;
  helm)           pkg=helm.sh/helm/v3/cmd/helm                         version=v3.22.0 ;;
  kustomize)      pkg=sigs.k8s.io/kustomize/kustomize/v5               version=v5.8.1 ;;
  *) echo "usage: $0 controller-gen|helm|kustomize" >&2; exit 2 ;;
esac
dir="$cache/bin/$1-$version"
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9 # concurrent test binaries install it once
if [ ! -x "$dir/$1" ]; then
  echo "tool: installing $1 $version (first time only)..." >&2
  GOBIN="$dir" GOFLAGS= go install "$pkg@$version" >&2
fi
echo "$dir/$1"
