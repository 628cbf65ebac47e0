// Package multinictest runs the whole multinic flow in-process: fake
// Contrabass, OpenStack and Viola servers wired together, plus a small
// sample topology. Use it in your own tests, examples and demos.
package multinictest

import (
	"fmt"
	"time"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/contrabass/contrabasstest"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/openstack/openstacktest"
	"github.com/multinic/multinic/viola"
	"github.com/multinic/multinic/viola/violatest"
)

// Identifiers of the environment's provider and project.
const (
	EncryptKey = "conbaEncrypt2025" // 16 characters: AES-128, as deployed
	ProviderID = "provider-1"
	ProjectID  = openstacktest.DefaultProjectID
	// AdminPassword is distinctive so tests can assert it never leaks.
	AdminPassword = "Adm1n-Pa55w0rd-7f3a"
)

// Env is a running set of fakes. Close it when done.
type Env struct {
	Contrabass *contrabasstest.Server
	OpenStack  *openstacktest.Server
	Viola      *violatest.Server
}

// NewEnv starts the three fakes, with provider ProviderID at Contrabass
// pointing at the OpenStack fake's Keystone and holding its admin password.
func NewEnv() *Env {
	e := &Env{
		Contrabass: contrabasstest.NewServer(EncryptKey),
		OpenStack:  openstacktest.NewServer(),
		Viola:      violatest.NewServer(),
	}
	e.OpenStack.SetCredentials(openstacktest.Credentials{
		UserName:       openstacktest.DefaultUserName,
		UserDomainName: openstacktest.DefaultUserDomainName,
		Password:       AdminPassword,
		ProjectID:      ProjectID,
	})
	e.Contrabass.AddProvider(ProviderID, contrabasstest.ProviderSpec{
		AdminID:       openstacktest.DefaultUserName,
		AdminPassword: AdminPassword,
		Domain:        openstacktest.DefaultUserDomainName,
		KeystoneURL:   e.OpenStack.URL,
	})
	return e
}

// Close stops every fake.
func (e *Env) Close() {
	e.Contrabass.Close()
	e.OpenStack.Close()
	e.Viola.Close()
}

// Config is a Config for vmIDs on the target subnets, pointed at the fakes,
// with retries kept short so failure tests stay quick.
func (e *Env) Config(vmIDs []string, subnetIDs ...string) multinic.Config {
	const wait = time.Millisecond
	return multinic.Config{
		ProviderID: ProviderID,
		ProjectID:  ProjectID,
		VMIDs:      vmIDs,
		SubnetIDs:  subnetIDs,
		EncryptKey: EncryptKey,
		Contrabass: contrabass.Options{Endpoint: e.Contrabass.URL, RetryWaitMin: wait, RetryWaitMax: wait},
		OpenStack:  openstack.Options{RetryWaitMin: wait, RetryWaitMax: wait},
		Viola:      viola.Options{Endpoint: e.Viola.URL, RetryWaitMin: wait, RetryWaitMax: wait},
	}
}

// Sample is the demo topology: three Biz worker VMs, two target subnets
// (A with MTU 1450, B with MTU 9000) and a management subnet whose ports
// must be ignored.
//
//	worker-1: A ACTIVE, B ACTIVE, mgmt
//	worker-2: A ACTIVE, B DOWN,   mgmt
//	worker-3: A ACTIVE,           mgmt
//
// Two more VMs, not in VMIDs, show how node names come about (SPEC §5):
//
//	HostnameVM: server "Worker_4", which is no node name; Nova gave its
//	            guest the host name worker-4 (OS-EXT-SRV-ATTR:hostname),
//	            and that is its node. A ACTIVE.
//	LongNameVM: a guest host name of 45 characters, over the 42 the node
//	            agent's Job name leaves room for: skipped with that
//	            reason, never sent. A ACTIVE.
type Sample struct {
	VMIDs          []string // worker-1..3
	NodeNames      []string
	SubnetA        string
	SubnetB        string
	ManagementPort string // worker-1's management port
	DownPort       string // worker-2's port on B
	HostnameVM     string
	HostnameNode   string // "worker-4"
	LongNameVM     string
}

// LongHostname is the guest host name of Sample.LongNameVM.
const LongHostname = "kr-seoul1-prod-biz-cluster-7-worker-node-0005"

// AddSample adds the sample topology with fixed IDs and MACs, so output is
// the same on every run.
func (e *Env) AddSample() Sample {
	cloud := e.OpenStack
	cloud.AddNetwork(openstacktest.Network{ID: "net-a", Name: "biz-a", MTU: 1450})
	cloud.AddNetwork(openstacktest.Network{ID: "net-b", Name: "biz-b", MTU: 9000})
	cloud.AddNetwork(openstacktest.Network{ID: "net-mgmt", Name: "mgmt", MTU: 1500})
	cloud.AddSubnet(openstacktest.Subnet{ID: "subnet-a", Name: "biz-a-subnet", NetworkID: "net-a", CIDR: "10.10.0.0/24"})
	cloud.AddSubnet(openstacktest.Subnet{ID: "subnet-b", Name: "biz-b-subnet", NetworkID: "net-b", CIDR: "10.20.0.0/24"})
	cloud.AddSubnet(openstacktest.Subnet{ID: "subnet-mgmt", Name: "mgmt-subnet", NetworkID: "net-mgmt", CIDR: "192.168.0.0/24"})
	s := Sample{SubnetA: "subnet-a", SubnetB: "subnet-b"}
	for i := 1; i <= 3; i++ {
		vm := fmt.Sprintf("00000000-0000-4000-8000-00000000000%d", i)
		name := fmt.Sprintf("worker-%d", i)
		cloud.AddVM(openstacktest.VM{ID: vm, Name: name})
		s.VMIDs = append(s.VMIDs, vm)
		s.NodeNames = append(s.NodeNames, name)
		port := func(kind, network, subnet, ip, status string) string {
			id := fmt.Sprintf("port-%s-%d", kind, i)
			cloud.AddPort(openstacktest.Port{
				ID: id, NetworkID: network, DeviceID: vm, Status: status,
				MACAddress: fmt.Sprintf("fa:16:3e:%02x:00:%02x", map[string]int{"a": 0xa, "b": 0xb, "mgmt": 0xe}[kind], i),
				FixedIPs:   []openstacktest.FixedIP{{SubnetID: subnet, IPAddress: ip}},
			})
			return id
		}
		port("a", "net-a", "subnet-a", fmt.Sprintf("10.10.0.%d", 10+i), "ACTIVE")
		switch i {
		case 1:
			port("b", "net-b", "subnet-b", "10.20.0.11", "ACTIVE")
		case 2:
			s.DownPort = port("b", "net-b", "subnet-b", "10.20.0.12", "DOWN")
		}
		mgmt := port("mgmt", "net-mgmt", "subnet-mgmt", fmt.Sprintf("192.168.0.%d", 10+i), "ACTIVE")
		if i == 1 {
			s.ManagementPort = mgmt
		}
	}
	for i, name := range map[int]string{4: "Worker_4", 5: LongHostname} {
		vm := fmt.Sprintf("00000000-0000-4000-8000-00000000000%d", i)
		cloud.AddVM(openstacktest.VM{ID: vm, Name: name}) // Nova makes the hostname from the name
		cloud.AddPort(openstacktest.Port{
			ID: fmt.Sprintf("port-a-%d", i), NetworkID: "net-a", DeviceID: vm, Status: "ACTIVE", MACAddress: fmt.Sprintf("fa:16:3e:0a:00:%02x", i),
			FixedIPs: []openstacktest.FixedIP{{SubnetID: "subnet-a", IPAddress: fmt.Sprintf("10.10.0.%d", 10+i)}},
		})
	}
	s.HostnameVM, s.HostnameNode = "00000000-0000-4000-8000-000000000004", "worker-4"
	s.LongNameVM = "00000000-0000-4000-8000-000000000005"
	return s
}
