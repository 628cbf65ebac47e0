package openstack_test

import (
	"context"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/retryhttp"
	"github.com/multinic/multinic/multinic/multinictest/fault"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/openstack/openstacktest"
)

// Issue 10's reproduction: Neutron streams a 50 MB ports answer. Through
// gophercloud and the default limit, the pass fails naming Neutron's request
// and the limit, and what it allocates follows the limit, not the answer.
func TestOversizedNeutronAnswerIsRefusedWithBoundedAllocation(t *testing.T) {
	cloud := openstacktest.NewServer()
	defer cloud.Close()
	session, err := openstack.Authenticate(context.Background(), openstack.Credentials{
		IdentityURL: cloud.URL, UserName: openstacktest.DefaultUserName, UserDomainName: openstacktest.DefaultUserDomainName,
		Password: openstacktest.DefaultPassword, ProjectID: openstacktest.DefaultProjectID,
	}, openstack.Options{RetryMax: -1, Timeout: time.Minute})
	require.NoError(t, err)
	cloud.Inject(openstacktest.RoutePorts, fault.Oversized(http.StatusOK, 50<<20), -1)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = session.Ports(context.Background(), []string{"00000000-0000-4000-8000-000000000001"})
	runtime.ReadMemStats(&after)

	require.Error(t, err)
	var tooLarge *retryhttp.BodyTooLargeError
	require.ErrorAs(t, err, &tooLarge)
	assert.Contains(t, err.Error(), "neutron: list ports: response of openstack to GET /neutron/v2.0/ports is larger than the limit of 8 MiB (MaxResponseBytes)")
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d MiB refusing a 50 MiB answer", allocated>>20)
	// json.Decoder's doubling buffers add up to about four times the limit;
	// reading the answer whole allocates several times its 50 MiB.
	assert.Less(t, allocated, uint64(6*openstack.DefaultMaxResponseBytes))
}
