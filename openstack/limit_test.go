package openstack_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/fault"
	"github.com/multinic/multinic/internal/retryhttp"
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

// sizeRecorder notes the largest response body per request path kind.
type sizeRecorder struct {
	mu      sync.Mutex
	largest map[string]int64
}

func (s *sizeRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	kind := path.Base(r.URL.Path)
	if strings.HasPrefix(kind, "0000") {
		kind = "server"
	}
	s.mu.Lock()
	s.largest[kind] = max(s.largest[kind], int64(len(body)))
	s.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// DefaultMaxResponseBytes is sized from what the flow reads for a fleet:
// Nova's detailed list pages at 1,000 servers (the library asks for no
// more per page, so a Nova with max_limit raised answers the same) and
// Neutron's ports in batches of 100 VMs. Measured here on 1,000 VMs with ten
// target ports each (the most a node uses) plus one other, as the fake
// renders them.
func TestDefaultMaxResponseBytesFitsATenThousandVMFleet(t *testing.T) {
	cloud := openstacktest.NewServer()
	defer cloud.Close()
	fleet := cloud.AddFleet(openstacktest.Fleet{VMs: 1000, TargetSubnets: 2, TargetPortsPerVM: 10, OtherPortsPerVM: 1, NodeNameMetadataKey: "k8s-node"})
	recorder := &sizeRecorder{largest: map[string]int64{}}
	session, err := openstack.Authenticate(context.Background(), openstack.Credentials{
		IdentityURL: cloud.URL, UserName: openstacktest.DefaultUserName, UserDomainName: openstacktest.DefaultUserDomainName,
		Password: openstacktest.DefaultPassword, ProjectID: openstacktest.DefaultProjectID,
	}, openstack.Options{Transport: recorder, RetryMax: -1, Timeout: time.Minute})
	require.NoError(t, err)

	ctx := context.Background()
	ports, err := session.Ports(ctx, fleet.VMIDs)
	require.NoError(t, err)
	require.Len(t, ports, 11000)
	found, _, err := session.Servers(ctx, fleet.VMIDs)
	require.NoError(t, err)
	require.Len(t, found, 1000)

	largest := map[string]int64{
		"Neutron ports batch of 100 VMs":          recorder.largest["ports"],
		"Nova detailed list page (1,000 servers)": recorder.largest["detail"],
	}
	for answer, size := range largest {
		t.Logf("%s: %.1f MB", answer, float64(size)/1e6)
		require.Positive(t, size, answer)
		// Real services' documents run longer (host names, more fields).
		assert.LessOrEqual(t, size*5/2, int64(openstack.DefaultMaxResponseBytes), "%s needs 2.5 times headroom under the limit", answer)
	}
}
