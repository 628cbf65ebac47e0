package crconfig

import (
	"cmp"
	"slices"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// RoutingKey is a CR's routing key: credentials.k8sProviderID, else
// credentials.openstackProviderID (SPEC §5).
func RoutingKey(oc *v1alpha1.OpenstackConfig) string {
	return multinic.Config{ProviderID: oc.Spec.Credentials.OpenstackProviderID, K8sProviderID: oc.Spec.Credentials.K8sProviderID}.RoutingKey()
}

// Peers are the CRs among others that share oc's routing key, oldest first,
// as multinic.Config.Peers: who owns a VM both select (SPEC §5), and which
// records are shared. oc itself and CRs being deleted are left out: the
// VMs of a CR that goes are free for the others to take over.
func Peers(oc *v1alpha1.OpenstackConfig, others []v1alpha1.OpenstackConfig) []multinic.Peer {
	key := RoutingKey(oc)
	var same []*v1alpha1.OpenstackConfig
	for i := range others {
		other := &others[i]
		if other.UID == oc.UID || (other.Namespace == oc.Namespace && other.Name == oc.Name) ||
			!other.DeletionTimestamp.IsZero() || RoutingKey(other) != key {
			continue
		}
		same = append(same, other)
	}
	slices.SortFunc(same, OwnerOrder)
	peers := make([]multinic.Peer, len(same))
	for i, other := range same {
		peers[i] = multinic.Peer{
			Name:          other.Namespace + "/" + other.Name,
			Prior:         OwnerOrder(other, oc) < 0,
			VMIDs:         other.Spec.VMNames,
			RemovalPolicy: multinic.RemovalPolicy(other.Spec.Settings.RemovalPolicy),
		}
	}
	return peers
}

// OwnerOrder puts first the CR that keeps a VM two CRs select: the older
// (creationTimestamp), and of two created in the same second, the first by
// namespace/name.
func OwnerOrder(a, b *v1alpha1.OpenstackConfig) int {
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}
