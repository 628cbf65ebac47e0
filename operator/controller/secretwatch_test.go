package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/multinic/multinic/operator/crconfig"
)

// A Secret that existed when the operator started maps to no reconcile (its
// CRs are reconciled for themselves); one created or changed later does.
func TestSecretEventsOfTheFirstListAreDropped(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: crconfig.DefaultEncryptKeySecret, Namespace: "ns"}}
	assert.False(t, secretChanged.Create(event.CreateEvent{Object: secret, IsInInitialList: true}))
	assert.True(t, secretChanged.Create(event.CreateEvent{Object: secret}))
	assert.True(t, secretChanged.Update(event.UpdateEvent{ObjectOld: secret, ObjectNew: secret}))
	assert.True(t, secretChanged.Delete(event.DeleteEvent{Object: secret}))
}
