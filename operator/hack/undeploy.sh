#!/usr/bin/env bash
# Removes what `make deploy` applied, without hanging on the OpenstackConfig
# finalizer. Usage (from the Makefile): KUSTOMIZE=… operator/hack/undeploy.sh
#
# The finalizer lets the operator drop a deleted CR's inventory records. With
# the operator gone, nothing would ever remove it, and deleting the CRD (which
# deletes every CR) would wait forever. So the CRs go first: while the
# operator runs it finalizes them (waited for up to UNDEPLOY_TIMEOUT); when it
# does not run, or does not finish in time, the finalizer is removed by hand.
# That loses nothing: the inventory it guards is deleted with the operator.
set -euo pipefail
: "${KUSTOMIZE:?set KUSTOMIZE to the kustomize binary}"
timeout=${UNDEPLOY_TIMEOUT:-60s}
crd=openstackconfigs.multinic.example.com
finalizer=multinic.example.com/inventory
namespace=multinic-operator-system
deployment=multinic-operator-controller-manager
root=$(cd "$(dirname "$0")/../.." && pwd)

if kubectl get crd "$crd" >/dev/null 2>&1; then
  running=$(kubectl get deployment "$deployment" -n "$namespace" -o jsonpath='{.status.availableReplicas}' 2>/dev/null || true)
  if [ "${running:-0}" -gt 0 ]; then
    echo "undeploy: deleting OpenstackConfigs; the operator finalizes them (up to $timeout)" >&2
    kubectl delete "$crd" --all --all-namespaces --timeout="$timeout" ||
      echo "undeploy: OpenstackConfigs remain after $timeout" >&2
  else
    echo "undeploy: the operator is not running; deleting OpenstackConfigs without it" >&2
    kubectl delete "$crd" --all --all-namespaces --wait=false
  fi
  # "namespace name index" of each CR that still carries our finalizer.
  kubectl get "$crd" --all-namespaces -o go-template='{{range .items}}{{$o := .}}{{range $i, $f := .metadata.finalizers}}{{if eq $f "'"$finalizer"'"}}{{$o.metadata.namespace}} {{$o.metadata.name}} {{$i}}{{"\n"}}{{end}}{{end}}{{end}}' |
    while read -r ns name index; do
      echo "undeploy: removing finalizer $finalizer from $ns/$name" >&2
      # The test op makes the patch fail rather than remove another finalizer
      # if the list changed meanwhile.
      kubectl patch "$crd" "$name" -n "$ns" --type=json \
        -p '[{"op":"test","path":"/metadata/finalizers/'"$index"'","value":"'"$finalizer"'"},{"op":"remove","path":"/metadata/finalizers/'"$index"'"}]'
    done
fi

"$KUSTOMIZE" build "$root/operator/config/default" | kubectl delete --ignore-not-found --wait="${UNDEPLOY_WAIT:-true}" -f -
