#!/usr/bin/env bash
# Prints the path of a pinned build tool, building it on first use into a
# cache outside the checkout.
#   operator/hack/tool.sh controller-gen|golangci-lint|helm|kustomize|setup-envtest
#
# Each tool is pinned by the `tool` directive of its own module,
# operator/hack/tools/NAME/go.mod, not by the main go.mod: there its
# requirements would reach every importer of the library through MVS, and
# the tools disagree among themselves (helm and controller-gen want
# different k8s.io versions; golangci-lint's analyzers are only tested with
# the x/tools they pin). One module per tool builds exactly what
# `go install tool@version` would. To move a tool to another version:
#   go -C operator/hack/tools/NAME get -tool PACKAGE@VERSION
# The cache key is a hash of that go.mod and go.sum, so the next call
# rebuilds it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

tools="controller-gen|golangci-lint|helm|kustomize|setup-envtest"
name=${1:-}
case "$name" in
  controller-gen|golangci-lint|helm|kustomize|setup-envtest) ;;
  *) echo "usage: $0 $tools" >&2; exit 2 ;;
esac
mod="$here/tools/$name"
pkg=$(awk '$1 == "tool" { print $2 }' "$mod/go.mod")
if [ -z "$pkg" ]; then
  echo "tool: $mod/go.mod has no tool directive" >&2
  exit 1
fi
if command -v sha256sum >/dev/null; then
  sum=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum)
else # macOS
  sum=$(cat "$mod/go.mod" "$mod/go.sum" | shasum -a 256)
fi
# The version of the module that provides pkg: the longest required path
# that is pkg or a parent of it. Only for the cache directory's name.
version=$(awk -v pkg="$pkg" '
  $1 == "require" && NF >= 3 { $1 = ""; $0 = substr($0, 2) }
  NF >= 2 && (pkg == $1 || index(pkg, $1 "/") == 1) && length($1) > best { best = length($1); v = $2 }
  END { print v }' "$mod/go.mod")
dir="$cache/bin/$name-$version-${sum:0:12}"
if [ -x "$dir/$name" ]; then # the common case, without waiting on the lock
  echo "$dir/$name"
  exit 0
fi
mkdir -p "$dir"
lock "$dir/.lock" tool
if [ ! -x "$dir/$name" ]; then
  echo "tool: building $name $version (first time only)..." >&2
  start=$SECONDS
  (cd "$mod" && GOFLAGS= GOWORK=off go build -trimpath -o "$dir/$name.tmp" "$pkg") >&2
  mv "$dir/$name.tmp" "$dir/$name"
  echo "tool: built $name in $((SECONDS - start))s" >&2
fi
echo "$dir/$name"
