package openstacktest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/rabbitmqtest"
	"github.com/multinic/multinic/openstack/notifications"
	"github.com/multinic/multinic/openstack/openstacktest"
)

// The fake's notifications, read back by multinic's own consumer: every
// change made through the fake's methods is announced as Neutron and Nova
// announce it, in the order made.
func TestNotifierAnnouncesEveryChange(t *testing.T) {
	broker, err := rabbitmqtest.Start() // one test: no broker shared with others
	if err != nil {
		rabbitmqtest.Unavailable(t, err)
	}
	defer broker.Close()

	for _, tc := range []struct {
		name string
		cfg  openstacktest.NotifierConfig
		want []string
	}{{
		name: "versioned and legacy Nova, state changes on",
		cfg:  openstacktest.NotifierConfig{NovaFormat: "both", NotifyOnStateChange: true},
		want: []string{
			"compute.instance.create.end vm=vm-1", "instance.create.end vm=vm-1",
			"port.create.end vm=vm-1 port=port-1",
			"port.create.end port=port-2",
			"port.update.end vm=vm-1 port=port-1", // status DOWN
			"port.update.end vm=vm-1 port=port-2", "instance.interface_attach.end vm=vm-1 port=port-1 port=port-2",
			"port.update.end port=port-1", "instance.interface_detach.end vm=vm-1 port=port-2",
			"compute.instance.update vm=vm-1 name=vm-1-renamed old=vm-1", "instance.update vm=vm-1 port=port-2 name=vm-1-renamed old=vm-1",
			"port.delete.end vm=vm-1 port=port-2",
			"compute.instance.delete.end vm=vm-1", "instance.delete.end vm=vm-1",
		},
	}, {
		name: "Nova's defaults: legacy only, no state changes, v1 envelope",
		cfg:  openstacktest.NotifierConfig{EnvelopeVersion: 1},
		want: []string{
			"compute.instance.create.end vm=vm-1",
			"port.create.end vm=vm-1 port=port-1",
			"port.create.end port=port-2",
			"port.update.end vm=vm-1 port=port-1",
			"port.update.end vm=vm-1 port=port-2",
			"port.update.end port=port-1",
			"port.delete.end vm=vm-1 port=port-2",
			"compute.instance.delete.end vm=vm-1",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			account := broker.NewAccount(t)
			s := openstacktest.NewServer()
			defer s.Close()
			tc.cfg.URL = account.URL()
			n, err := s.PublishNotifications(tc.cfg)
			require.NoError(t, err)
			defer func() { assert.NoError(t, n.Close(), "what was queued is published") }()

			var mu sync.Mutex
			var got []notifications.Event
			c, err := notifications.NewConsumer(notifications.Config{
				User: account.User, Password: account.Password, URLs: []string{account.Addr}, Vhost: account.Vhost,
				Queue: notifications.QueueName("test", "fake"), Topics: []string{"notifications", "versioned_notifications"},
			}, func(ev notifications.Event) {
				mu.Lock()
				got = append(got, ev)
				mu.Unlock()
			})
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = c.Run(ctx) }()
			require.Eventually(t, func() bool { return c.State().Phase == notifications.PhaseConnected }, time.Minute, 10*time.Millisecond)

			net := s.AddNetwork(openstacktest.Network{ID: "net-1"})
			sn := s.AddSubnet(openstacktest.Subnet{ID: "subnet-1", NetworkID: net.ID, CIDR: "10.20.0.0/24"})
			s.AddVM(openstacktest.VM{ID: "vm-1", Name: "vm-1"})
			s.AddPort(openstacktest.Port{ID: "port-1", NetworkID: net.ID, DeviceID: "vm-1",
				FixedIPs: []openstacktest.FixedIP{{SubnetID: sn.ID, IPAddress: "10.20.0.11"}}})
			s.AddPort(openstacktest.Port{ID: "port-2", NetworkID: net.ID,
				FixedIPs: []openstacktest.FixedIP{{SubnetID: sn.ID, IPAddress: "10.20.0.12"}}})
			s.UpdatePort("port-1", func(p *openstacktest.Port) { p.Status = "DOWN" })
			s.UpdatePort("port-2", func(p *openstacktest.Port) { p.DeviceID = "vm-1" })
			s.UpdatePort("port-1", func(p *openstacktest.Port) { p.DeviceID = "" })
			s.UpdateVM("vm-1", func(v *openstacktest.VM) { v.Name = "vm-1-renamed" })
			s.RemovePort("port-2")
			s.RemoveVM("vm-1")

			flushCtx, cancelFlush := context.WithTimeout(context.Background(), time.Minute)
			defer cancelFlush()
			require.NoError(t, n.Flush(flushCtx))
			assert.Equal(t, len(tc.want), n.Published())
			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(got) >= len(tc.want)
			}, time.Minute, 10*time.Millisecond, "stats %+v", c.Stats())

			wantEnvelope := tc.cfg.EnvelopeVersion
			if wantEnvelope == 0 {
				wantEnvelope = 2
			}
			mu.Lock()
			defer mu.Unlock()
			var summary []string
			for _, ev := range got {
				line := ev.EventType
				for _, id := range ev.VMIDs() {
					line += " vm=" + id
				}
				for _, id := range ev.PortIDs() {
					line += " port=" + id
				}
				if ev.Instance != nil && ev.Instance.OldName != "" {
					line += " name=" + ev.Instance.Name + " old=" + ev.Instance.OldName
				}
				summary = append(summary, line)
				assert.Equal(t, wantEnvelope, ev.EnvelopeVersion, ev.EventType)
				assert.Equal(t, openstacktest.DefaultProjectID, ev.ProjectID, ev.EventType)
				assert.WithinDuration(t, time.Now(), ev.Timestamp, time.Minute, ev.EventType)
			}
			assert.Equal(t, tc.want, summary)
			assert.Zero(t, c.Stats().Dropped[notifications.ReasonBadPayload])
		})
	}
}
