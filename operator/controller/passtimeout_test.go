package controller_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// settings.passTimeout bounds the whole pass: a Keystone that never answers
// cannot hold the worker for openstackTimeout times the retries.
func TestPassTimeoutBoundsAHungDependency(t *testing.T) {
	f := newFixture(t)
	f.pointKeystoneAt(hostileKeystone(t, 0, "", true))
	oc := f.config("hung")
	oc.Spec.Settings.PassTimeout = "2s"
	oc.Spec.Settings.OpenstackTimeout = "5m"
	f.create(oc)
	start := time.Now()
	res := f.reconcile(oc)
	elapsed := time.Since(start)
	assert.Less(t, elapsed, 30*time.Second, "a pass of a hung dependency ends near passTimeout, not 5m per attempt")
	ready, _ := readyCondition(t, f.get(oc))
	assert.Equal(t, metav1.ConditionFalse, ready.Status)
	assert.Contains(t, ready.Message, "passTimeout")
	assert.Equal(t, 30*time.Second, res.RequeueAfter)
}
