package controller_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/multinic/multinic/openstack/openstacktest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// A pass that would change nothing in status but lastSyncedAt writes
// nothing while the stored time is within the fast window; anything else,
// and a lastSyncedAt that old, is written at once.
func TestUnchangedPassWritesStatusOncePerFastWindow(t *testing.T) {
	f := newFixture(t)
	f.env.OpenStack.UpdatePort(f.sample.DownPort, func(p *openstacktest.Port) { p.Status = "ACTIVE" })
	oc := f.create(f.config("quiet"))
	f.reconcile(oc) // Synced at t0

	f.clock.Step(20 * time.Second)
	f.reconcile(oc)
	got := f.get(oc)
	assert.Equal(t, v1alpha1.ReasonNoChange, meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady).Reason,
		"Ready's reason changed, so this pass is written")
	assert.True(t, got.Status.LastSyncedAt.Time.Equal(t0.Add(20*time.Second)))
	version := got.ResourceVersion

	for range 8 { // the rest of the 3m fast window, every 20s
		f.clock.Step(20 * time.Second)
		f.reconcile(oc)
		assert.Equal(t, version, f.get(oc).ResourceVersion, "nothing but the time changed: no write at %s", f.clock.Now().Sub(t0))
	}
	f.clock.Step(20 * time.Second) // lastSyncedAt is now 3m old
	f.reconcile(oc)
	got = f.get(oc)
	assert.NotEqual(t, version, got.ResourceVersion)
	assert.True(t, got.Status.LastSyncedAt.Time.Equal(f.clock.Now()), "lastSyncedAt refreshed once it is a fast window old")
	version = got.ResourceVersion

	// A failure is news however recent the last write.
	f.clock.Step(20 * time.Second)
	f.env.Contrabass.Fail(http.StatusBadGateway, -1)
	f.reconcile(oc)
	got = f.get(oc)
	require.NotEqual(t, version, got.ResourceVersion)
	assert.False(t, meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReady))
	version = got.ResourceVersion

	// The same failure again changes nothing, so nothing is written.
	f.clock.Step(30 * time.Second)
	f.reconcile(oc)
	assert.Equal(t, version, f.get(oc).ResourceVersion, "a repeated identical failure writes nothing")

	f.env.Contrabass.ClearFaults()
	f.clock.Step(30 * time.Second)
	f.reconcile(oc)
	assert.True(t, meta.IsStatusConditionTrue(f.get(oc).Status.Conditions, v1alpha1.ConditionReady), "recovery is written at once")
}
