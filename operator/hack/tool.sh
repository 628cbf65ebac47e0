#!/usr/bin/env bash
# Prints the path of a pinned build tool, installing it from the Go module
# proxy into a cache outside the checkout on first use.
#   operator/hack/tool.sh controller-gen|helm|kustomize|setup-envtest
set -euo pipefail
. "$(dirname "$0")/lib.sh"

case "${1:-}" in
  controller-gen) pkg=sigs.k8s.io/controller-tools/cmd/controller-gen version=v0.23.0 ;;
  helm)           pkg=helm.sh/helm/v3/cmd/helm                         version=v3.22.0 ;;
  kustomize)      pkg=sigs.k8s.io/kustomize/kustomize/v5               version=v5.8.1 ;;
  setup-envtest)  pkg=sigs.k8s.io/controller-runtime/tools/setup-envtest version=v0.25.1 ;;
  *) echo "usage: $0 controller-gen|helm|kustomize|setup-envtest" >&2; exit 2 ;;
esac
dir="$cache/bin/$1-$version"
mkdir -p "$dir"
lock "$dir/.lock" tool
if [ ! -x "$dir/$1" ]; then
  echo "tool: installing $1 $version (first time only)..." >&2
  GOBIN="$dir" GOFLAGS= go install "$pkg@$version" >&2
fi
echo "$dir/$1"
