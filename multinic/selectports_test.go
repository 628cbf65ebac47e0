package multinic

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/openstack"
)

// choosePorts is selectPorts for tests whose context never ends.
func choosePorts(t *testing.T, ports []openstack.Port, targets map[string]*target, allowed statusFilter) ([]candidate, []string) {
	t.Helper()
	cands, blocked, err := selectPorts(context.Background(), ports, targets, allowed)
	require.NoError(t, err)
	return cands, blocked
}

// floodedVM is one VM listed with n ports on target subnet sub-a, every
// tenth repeating the MAC before it, as a hostile listing may.
func floodedVM(n int) []openstack.Port {
	ports := make([]openstack.Port, n)
	for i := range ports {
		m := i
		if i%10 == 9 {
			m = i - 1
		}
		ports[i] = port(fmt.Sprintf("p%06d", i), fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", m>>16, m>>8&0xff, m&0xff), "ACTIVE", ip("sub-a", "10.0.0.7"))
	}
	return ports
}

func TestSelectPortsKeepsOnePortPerMACAtAnySize(t *testing.T) {
	for _, n := range []int{macSetSmall - 1, macSetSmall, macSetSmall + 1, 5000} {
		ports := floodedVM(n)
		cands, _ := choosePorts(t, ports, twoTargets(), nil)
		assert.Len(t, cands, n-n/10, "%d ports, one in ten a repeated MAC", n)
		seen := map[string]bool{}
		for i, c := range cands {
			assert.False(t, seen[c.mac], "MAC %s twice", c.mac)
			seen[c.mac] = true
			if i > 0 {
				assert.Less(t, cands[i-1].mac, c.mac, "MAC order")
			}
			assert.NotEqual(t, "9", c.port.ID[len(c.port.ID)-1:], "the first port of a MAC wins")
		}
	}
}

// The pass deadline bounds the choice of ports: a VM with a flood of ports
// stops at the context's end instead of running on.
func TestSelectPortsStopsAtTheContextsEnd(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("pass deadline exceeded (PassTimeout 10s)")
	cancel(cause)
	cands, blocked, err := selectPorts(ctx, floodedVM(10*selectCheckEvery), twoTargets(), nil)
	assert.ErrorIs(t, err, cause)
	assert.Nil(t, cands)
	assert.Nil(t, blocked)

	_, _, err = selectPorts(ctx, floodedVM(selectCheckEvery/2), twoTargets(), nil)
	assert.NoError(t, err, "a VM's few ports are chosen without looking at the clock")
}

// BenchmarkSelectPorts shows the choice is linear in the ports: the issue's
// 80,000 ports of one VM (240,000 for 3) took seconds per VM when the MAC
// de-duplication was quadratic.
func BenchmarkSelectPorts(b *testing.B) {
	for _, n := range []int{4, 1000, 10_000, 80_000} {
		ports := floodedVM(n)
		targets := twoTargets()
		b.Run(fmt.Sprintf("ports=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := selectPorts(context.Background(), ports, targets, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/port")
		})
	}
}
