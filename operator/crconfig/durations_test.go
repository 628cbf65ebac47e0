package crconfig

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// Settings stored before the schema had its minimums (0s, 1ns) must
// neither stop polling (a zero requeue means never) nor hot-loop.
func TestPollingClampsStoredValues(t *testing.T) {
	p, bad := PollingOf(v1alpha1.Settings{
		PollFastInterval: "1ns", PollSlowInterval: "0s", PollErrorInterval: "0s", PollFastWindow: "1ns",
		ResyncInterval: "1s", DownPortFastRetryMax: ptrTo[int32](-3),
	})
	assert.Empty(t, bad, "parsable values are clamped, not refused")
	assert.Equal(t, Polling{Fast: time.Second, Slow: time.Second, Error: time.Second, FastWindow: time.Second, Resync: time.Minute}, p)

	p, bad = PollingOf(v1alpha1.Settings{PollFastInterval: "9000h", PollSlowInterval: "100000h", ResyncInterval: "9000h", DownPortFastRetryMax: ptrTo[int32](1 << 30)})
	assert.Empty(t, bad)
	assert.Equal(t, 24*time.Hour, p.Fast)
	assert.Equal(t, 24*time.Hour, p.Slow)
	assert.Equal(t, 7*24*time.Hour, p.Resync)
	assert.Equal(t, int32(1000), p.DownPortFastRetryMax)

	p, _ = PollingOf(v1alpha1.Settings{ResyncInterval: "0s"})
	assert.Zero(t, p.Resync, "0s still disables resync")

	// Unparsable values name their field and fall back to the defaults, so
	// the ConfigError is retried at the default error interval.
	p, bad = PollingOf(v1alpha1.Settings{PollErrorInterval: "9999999999h", PollFastInterval: "soon"})
	assert.Equal(t, defaultPollError, p.Error)
	assert.Equal(t, defaultPollFast, p.Fast)
	require.Len(t, bad, 2)
	assert.Contains(t, bad[0], "spec.settings.pollFastInterval")
	assert.Contains(t, bad[1], "spec.settings.pollErrorInterval")
}

func ptrTo[T any](v T) *T { return &v }

func TestPassTimeout(t *testing.T) {
	assert.Equal(t, multinic.DefaultPassTimeout, PassTimeout(v1alpha1.Settings{}))
	assert.Equal(t, multinic.DefaultPassTimeout, PassTimeout(v1alpha1.Settings{PassTimeout: "soon"}), "unparsable: the default, while the ConfigError says so")
	assert.Equal(t, 10*time.Minute, PassTimeout(v1alpha1.Settings{PassTimeout: "1h"}), "clamped to the schema's range")
	assert.Equal(t, 2*time.Second, PassTimeout(v1alpha1.Settings{PassTimeout: "2s"}))
}

func TestDownPortGracePeriodAndRemovalPolicy(t *testing.T) {
	assert.Equal(t, 2*time.Minute, DownPortGracePeriod(v1alpha1.Settings{}), "unset (a CR stored before the field): the default")
	assert.Zero(t, DownPortGracePeriod(v1alpha1.Settings{DownPortGracePeriod: "0s"}), "0s sends at once")
	assert.Equal(t, time.Second, DownPortGracePeriod(v1alpha1.Settings{DownPortGracePeriod: "1ms"}), "clamped to the schema's range")
	assert.Equal(t, 24*time.Hour, DownPortGracePeriod(v1alpha1.Settings{DownPortGracePeriod: "9000h"}))

	oc := &v1alpha1.OpenstackConfig{Spec: v1alpha1.OpenstackConfigSpec{
		Credentials: v1alpha1.Credentials{OpenstackProviderID: "p", ProjectID: "pr"}, VMNames: []string{"vm"}, SubnetID: "s",
		Settings: v1alpha1.Settings{ContrabassEndpoint: "http://c", ViolaEndpoint: "http://v", DownPortGracePeriod: "30s", RemovalPolicy: "Delete"},
	}}
	cfg, err := SpecConfig(oc, Defaults{})
	require.NoError(t, err)
	assert.Equal(t, 30*time.Second, cfg.DownPortGracePeriod)
	assert.Equal(t, multinic.RemovalDelete, cfg.RemovalPolicy)

	oc.Spec.Settings.DownPortGracePeriod, oc.Spec.Settings.RemovalPolicy = "soon", "Remove" // stored before the rules
	cfg, err = SpecConfig(oc, Defaults{})
	require.Error(t, err)
	assert.Equal(t, 2*time.Minute, cfg.DownPortGracePeriod)
	assert.Contains(t, Message(err), `spec.settings.downPortGracePeriod "soon" is not a Go duration`)
	assert.Contains(t, Message(err), `settings.removalPolicy must be Orphan or Delete, got "Remove"`)
}
