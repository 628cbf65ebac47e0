package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DefaultOperator is where the chart and kustomize install the operator by
// default: namespace/release.
const DefaultOperator = "multinic-operator-system/multinic-operator"

// The labels the chart selects the operator's pods by
// (operator/chart/templates/_helpers.tpl, selectorLabels). The Deployment
// is looked up by the release and the role, not by app.kubernetes.io/name,
// which nameOverride changes; that name only settles a tie.
const (
	labelInstance     = "app.kubernetes.io/instance"
	labelName         = "app.kubernetes.io/name"
	labelControlPlane = "control-plane"
	controllerManager = "controller-manager"
	chartName         = "multinic-operator"
	inventoryPort     = "inventory" // the port name of the inventory Service
)

// operatorRef is --operator: the namespace and Helm release (or kustomize
// name prefix) of the operator.
type operatorRef struct{ namespace, release string }

func parseOperatorRef(s string) (operatorRef, error) {
	namespace, release, ok := strings.Cut(s, "/")
	if !ok || namespace == "" || release == "" || strings.Contains(release, "/") {
		return operatorRef{}, fmt.Errorf("--operator %q is not namespace/release", s)
	}
	return operatorRef{namespace: namespace, release: release}, nil
}

func (r operatorRef) String() string { return r.namespace + "/" + r.release }

// operatorDeployment finds the operator's Deployment: the one the chart
// labels with the release (app.kubernetes.io/instance) and the manager's
// role, whatever the release is called; else, for a kustomize install
// (which sets no instance label), <release>-controller-manager. The answer
// is kept: check reads the Deployment's environment and the inventory
// Service selects its pods.
func (k *kube) operatorDeployment(ctx context.Context, ref operatorRef) (*appsv1.Deployment, error) {
	if k.operator != nil && k.operator.ref == ref {
		return k.operator.deployment, k.operator.err
	}
	d, err := k.findDeployment(ctx, ref)
	k.operator = &operatorLookup{ref: ref, deployment: d, err: err}
	return d, err
}

// operatorLookup is the answer of operatorDeployment for one --operator.
type operatorLookup struct {
	ref        operatorRef
	deployment *appsv1.Deployment
	err        error
}

func (k *kube) findDeployment(ctx context.Context, ref operatorRef) (*appsv1.Deployment, error) {
	selector := labels.Set{labelInstance: ref.release, labelControlPlane: controllerManager}
	var list appsv1.DeploymentList
	listErr := k.client.List(ctx, &list, client.InNamespace(ref.namespace), client.MatchingLabels(selector))
	if listErr == nil && len(list.Items) > 0 {
		found := list.Items
		if len(found) > 1 {
			// Say an umbrella release with another kubebuilder-style
			// operator: keep the one this chart names, if that settles it.
			named := slices.DeleteFunc(slices.Clone(found), func(d appsv1.Deployment) bool { return d.Labels[labelName] != chartName })
			if len(named) > 0 {
				found = named
			}
		}
		if len(found) == 1 {
			return &found[0], nil
		}
		return nil, fmt.Errorf("%d Deployments in namespace %s are labelled %s (%s), so which is the operator's is ambiguous: pass --viola-endpoint and --inventory-url instead",
			len(found), ref.namespace, selector, deploymentNames(found))
	}
	// No Helm release of that name: a kustomize install, whose namePrefix
	// is what --operator names.
	key := types.NamespacedName{Namespace: ref.namespace, Name: ref.release + "-" + controllerManager}
	var d appsv1.Deployment
	err := k.client.Get(ctx, key, &d)
	switch {
	case err == nil:
		return &d, nil
	case listErr != nil:
		return nil, fmt.Errorf("list deployments in namespace %s: %w (your kubeconfig user needs list on deployments there; or pass --viola-endpoint and --inventory-url)", ref.namespace, listErr)
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("no operator Deployment of release %q in namespace %s: none labelled %s (Helm) nor named %s (kustomize); set --operator to the operator's namespace/release (helm list -A)",
			ref.release, ref.namespace, selector, key.Name)
	default:
		return nil, fmt.Errorf("read deployment %s: %w", key, err)
	}
}

func deploymentNames(ds []appsv1.Deployment) string {
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.Name
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// managerContainer is the operator's container of a Deployment: "manager",
// or the only one.
func managerContainer(d *appsv1.Deployment) *corev1.Container {
	containers := d.Spec.Template.Spec.Containers
	for i := range containers {
		if containers[i].Name == "manager" || len(containers) == 1 {
			return &containers[i]
		}
	}
	return nil
}

// inventoryService finds the Service in front of the operator's inventory:
// one that selects the Deployment's pods and has a port named "inventory"
// (the chart's <fullname>-inventory, kustomize's <prefix>inventory).
// disabled reports an operator without an inventory (INVENTORY_ENABLED=false,
// and so no such Service).
func (k *kube) inventoryService(ctx context.Context, d *appsv1.Deployment) (name string, disabled bool, err error) {
	var list corev1.ServiceList
	if err := k.client.List(ctx, &list, client.InNamespace(d.Namespace)); err != nil {
		return "", false, fmt.Errorf("list services in namespace %s: %w (or pass --inventory-url)", d.Namespace, err)
	}
	pods := labels.Set(d.Spec.Template.Labels)
	var found []string
	for _, svc := range list.Items {
		selects := len(svc.Spec.Selector) > 0 && labels.SelectorFromSet(svc.Spec.Selector).Matches(pods)
		if selects && slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == inventoryPort }) {
			found = append(found, svc.Name)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], false, nil
	case len(found) > 1:
		return "", false, fmt.Errorf("%d Services in namespace %s select the pods of deployment %s with a port named %q (%s): pass --inventory-url",
			len(found), d.Namespace, d.Name, inventoryPort, strings.Join(found, ", "))
	}
	if c := managerContainer(d); c != nil {
		for _, e := range c.Env {
			if e.Name == "INVENTORY_ENABLED" && e.ValueFrom == nil {
				if enabled, err := strconv.ParseBool(strings.TrimSpace(e.Value)); err == nil && !enabled {
					return "", true, nil
				}
			}
		}
	}
	return "", false, fmt.Errorf("no Service in namespace %s selects the pods of deployment %s with a port named %q; use --inventory-url after kubectl port-forward -n %s deployment/%s 18081",
		d.Namespace, d.Name, inventoryPort, d.Namespace, d.Name)
}
