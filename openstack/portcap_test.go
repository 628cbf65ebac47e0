package openstack

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/openstack/openstacktest"
)

// Issue 20.3: a listing with more ports than the VMs asked for can have is
// cut, however it is paged; one at the bound is read whole.
func TestPortListingIsCutBeyondWhatTheVMsCanHave(t *testing.T) {
	for _, tt := range []struct {
		name     string
		perVM    []int // ports of each VM
		pageSize int
		wantErr  bool
	}{
		{"at the bound", []int{MaxPortsPerVM, MaxPortsPerVM, MaxPortsPerVM}, 0, false},
		{"one VM holds the others' share", []int{3 * MaxPortsPerVM, 0, 0}, 50, false},
		{"one port too many", []int{MaxPortsPerVM, MaxPortsPerVM + 1, MaxPortsPerVM}, 0, true},
		{"one port too many, paged", []int{MaxPortsPerVM, MaxPortsPerVM + 1, MaxPortsPerVM}, 7, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := openstacktest.NewServer()
			defer s.Close()
			var vms []string
			n := 0
			for v, count := range tt.perVM {
				vm := fmt.Sprintf("00000000-0000-4000-8000-%012d", v)
				vms = append(vms, vm)
				for range count {
					s.AddPort(openstacktest.Port{ID: fmt.Sprintf("port-%05d", n), DeviceID: vm})
					n++
				}
			}
			s.SetPageSize(tt.pageSize)
			ports, err := session(t, s, nil).Ports(context.Background(), vms)
			if !tt.wantErr {
				require.NoError(t, err)
				assert.Len(t, ports, n)
				return
			}
			require.Error(t, err)
			t.Log(err)
			assert.ErrorIs(t, err, ErrTooManyPorts)
			assert.Contains(t, err.Error(), "neutron: list ports:")
			assert.Contains(t, err.Error(), fmt.Sprintf("more than %d ports for 3 VMs", 3*MaxPortsPerVM))
			assert.Contains(t, err.Error(), vms[1], "the VM that holds the most")
		})
	}
}
