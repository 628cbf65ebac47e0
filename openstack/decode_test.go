package openstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/openstack/openstacktest"
)

const (
	testVM     = "00000000-0000-4000-8000-000000000001"
	testSubnet = "sub-a"
)

// cannedTransport answers the requests whose path ends in one of its keys
// with that body (status 200 unless the body says otherwise via statuses);
// everything else goes to the fake. It is how these tests make a dependency
// answer in shapes the fake never would.
type cannedTransport struct {
	bodies   map[string]string
	statuses map[string]int
}

func (c cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	for suffix, body := range c.bodies {
		if strings.HasSuffix(r.URL.Path, suffix) {
			status := http.StatusOK
			if s, ok := c.statuses[suffix]; ok {
				status = s
			}
			return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// cloud is one VM with one port on subnet sub-a of network net-a.
func cloud(t *testing.T) *openstacktest.Server {
	t.Helper()
	s := openstacktest.NewServer()
	t.Cleanup(s.Close)
	s.AddNetwork(openstacktest.Network{ID: "net-a", MTU: 1450})
	s.AddSubnet(openstacktest.Subnet{ID: testSubnet, Name: "biz-a", NetworkID: "net-a", CIDR: "10.0.0.0/24"})
	s.AddVM(openstacktest.VM{ID: testVM, Name: "worker-1"})
	s.AddPort(openstacktest.Port{ID: "port-1", NetworkID: "net-a", DeviceID: testVM, MACAddress: "fa:16:3e:00:00:01",
		FixedIPs: []openstacktest.FixedIP{{SubnetID: testSubnet, IPAddress: "10.0.0.11"}}})
	return s
}

func session(t testing.TB, s *openstacktest.Server, transport http.RoundTripper) *Session {
	t.Helper()
	if transport == nil {
		transport = http.DefaultTransport
	}
	sess, err := Authenticate(context.Background(), Credentials{
		IdentityURL: s.URL, UserName: openstacktest.DefaultUserName, UserDomainName: openstacktest.DefaultUserDomainName,
		Password: openstacktest.DefaultPassword, ProjectID: openstacktest.DefaultProjectID,
	}, Options{Transport: transport, RetryMax: -1})
	require.NoError(t, err)
	return sess
}

func canned(suffix, body string) cannedTransport {
	return cannedTransport{bodies: map[string]string{suffix: body}}
}

// Each answer that lacks what the flow needs is an error naming what is
// missing; none panics and none reads as an empty success.
func TestSubnetAnswersWithoutASubnet(t *testing.T) {
	s := cloud(t)
	tests := map[string]string{
		`{}`:                           `the answer has no "subnet" object`,
		`{"subnet":null}`:              `the answer has no "subnet" object`,
		`{"subnet":{"id":"sub-a"}}`:    `subnet "sub-a" has no network_id, cidr`,
		`{"subnet":{"id":1}}`:          "cannot unmarshal number",
		``:                             "the answer body is empty",
		`{"subnet":{"id":"sub-a","cid`: "the answer body is empty or cut short",
		`{"subnet":[]}`:                "cannot unmarshal array",
		`{"subnet":{"id":"sub-a","network_id":"net-a","cidr":"10.0.0.0/24","created_at":"yesterday","extra":{"x":[1]}}}`: "",
	}
	for body, want := range tests {
		t.Run(body, func(t *testing.T) {
			sn, err := session(t, s, canned("/subnets/"+testSubnet, body)).Subnet(context.Background(), testSubnet)
			if want == "" {
				require.NoError(t, err, "unused attributes do not matter")
				assert.Equal(t, Subnet{ID: testSubnet, NetworkID: "net-a", CIDR: "10.0.0.0/24"}, sn)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), `neutron: get subnet "sub-a": `)
			assert.Contains(t, err.Error(), want)
		})
	}
}

func TestNetworkMTUAnswers(t *testing.T) {
	s := cloud(t)
	tests := []struct {
		body    string
		mtu     int
		wantErr string
	}{
		{`{}`, 0, `the answer has no "network" object`},
		{`{"network":null}`, 0, `the answer has no "network" object`},
		{`{"network":{"id":"net-a"}}`, 0, ""},
		{`{"network":{"id":"net-a","mtu":null}}`, 0, ""},
		{`{"network":{"id":"net-a","mtu":9100}}`, 9100, ""},
		{`{"network":{"id":"net-a","mtu":"1450"}}`, 0, "cannot unmarshal string"},
		{`{"network":{"id":"net-a","mtu":1450,"created_at":"not a time","subnets":"oops"}}`, 1450, ""},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			mtu, err := session(t, s, canned("/networks/net-a", tt.body)).NetworkMTU(context.Background(), "net-a")
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.mtu, mtu, "0 means Neutron reports none; the caller decides")
		})
	}
}

func TestPortListAnswers(t *testing.T) {
	s := cloud(t)
	tests := []struct {
		body    string
		ports   int
		wantErr string
	}{
		{`{}`, 0, `the answer has no "ports" list`},
		{`{"ports":null}`, 0, `the answer has no "ports" list`},
		{`{"ports":[]}`, 0, ""},
		{`{"ports":[{"id":"p1"}]}`, 0, `ports[0] (id "p1") has no device_id, mac_address`},
		{`{"ports":[{"device_id":"` + testVM + `","mac_address":"fa:16:3e:00:00:01"}]}`, 0, `ports[0] (id "") has no id`},
		{`{"ports":{}}`, 0, "cannot unmarshal object"},
		// created_at is not used by the flow: a timestamp Go cannot parse
		// must not fail the list (issue 10 item 9).
		{`{"ports":[{"id":"p1","device_id":"` + testVM + `","mac_address":"fa:16:3e:00:00:01","status":"N/A","created_at":"12/11/2025 13:14","fixed_ips":[{"subnet_id":"sub-a","ip_address":"10.0.0.11"}]}]}`, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			ports, err := session(t, s, canned("/v2.0/ports", tt.body)).Ports(context.Background(), []string{testVM})
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "neutron: list ports: ")
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Len(t, ports, tt.ports)
		})
	}
}

func TestPortListDoesNotAskForUnusedFields(t *testing.T) {
	q, _ := portQuery{projectID: "p", deviceIDs: []string{"vm"}}.ToPortListQuery()
	assert.NotContains(t, q, "created_at")
	assert.Contains(t, q, "fields=fixed_ips")
}

func TestServerAnswers(t *testing.T) {
	s := cloud(t)
	tests := []struct {
		body    string
		want    Server
		wantErr string
	}{
		{`{}`, Server{}, `the answer has no "server" object`},
		{`{"server":null}`, Server{}, `the answer has no "server" object`},
		{`{"server":{"name":"worker-1"}}`, Server{}, `the answer is for server ""`},
		{`{"server":{"id":"another","name":"worker-1"}}`, Server{}, `the answer is for server "another"`},
		{`{"server":{"id":"` + testVM + `"}}`, Server{ID: testVM}, ""},
		{`{"server":{"id":"` + testVM + `","name":"w","created":"garbage","addresses":7}}`, Server{ID: testVM, Name: "w"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			found, failed, err := session(t, s, canned("/servers/"+testVM, tt.body)).Servers(context.Background(), []string{testVM})
			require.NoError(t, err, "one VM's answer is that VM's problem")
			if tt.wantErr != "" {
				assert.Empty(t, found)
				require.Contains(t, failed, testVM)
				assert.Contains(t, failed[testVM].Error(), tt.wantErr)
				return
			}
			assert.Empty(t, failed)
			assert.Equal(t, tt.want, found[testVM])
		})
	}
}

func TestServerListAnswers(t *testing.T) {
	s := cloud(t)
	vms := make([]string, listServersThreshold+1)
	for i := range vms {
		vms[i] = fmt.Sprintf("vm-%d", i)
	}
	for body, want := range map[string]string{
		`{}`:                           `nova: list servers: the answer has no "servers" list`,
		`{"servers":[{"name":"w-1"}]}`: `servers[0] (name "w-1") has no id`,
	} {
		_, _, err := session(t, s, canned("/servers/detail", body)).Servers(context.Background(), vms)
		require.Error(t, err, body)
		assert.Contains(t, err.Error(), want)
	}
}

func TestKeystoneAnswerWithoutAToken(t *testing.T) {
	s := cloud(t)
	transport := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "/auth/tokens") {
			return &http.Response{StatusCode: http.StatusCreated, Request: r, Body: io.NopCloser(strings.NewReader(`{}`)),
				Header: http.Header{"Content-Type": {"application/json"}, "X-Subject-Token": {"tok"}}}, nil
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	_, err := Authenticate(context.Background(), Credentials{IdentityURL: s.URL, UserName: "admin", UserDomainName: "default", Password: "secret", ProjectID: "project-1"},
		Options{Transport: transport, RetryMax: -1})
	require.Error(t, err)
	var authErr *AuthError
	require.ErrorAs(t, err, &authErr)
	assert.Contains(t, err.Error(), "token")
}

func TestSubnetNotFoundSaysWhatExists(t *testing.T) {
	s := cloud(t)
	sess := session(t, s, nil)
	ctx := context.Background()

	_, err := sess.SubnetByName(ctx, "biz-b")
	require.ErrorIs(t, err, ErrSubnetNotFound)
	assert.Contains(t, err.Error(), `no subnet named "biz-b" in project "project-1" (its subnets: "biz-a")`)

	_, err = sess.Subnet(ctx, "sub-gone")
	require.ErrorIs(t, err, ErrSubnetNotFound)
	assert.Contains(t, err.Error(), `no subnet with ID "sub-gone" (Neutron answered 404; project "project-1": its subnets: "biz-a" (ID sub-a))`,
		"an ID is corrected with an ID: each name comes with its own")

	for i := range 12 {
		s.AddSubnet(openstacktest.Subnet{ID: fmt.Sprintf("sub-%02d", i), Name: fmt.Sprintf("extra-%02d", i), NetworkID: "net-a", CIDR: fmt.Sprintf("10.%d.0.0/24", 100+i)})
	}
	s.AddSubnet(openstacktest.Subnet{ID: "sub-other", Name: "other-project", NetworkID: "net-a", CIDR: "10.200.0.0/24", ProjectID: "project-2"})
	_, err = sess.SubnetByName(ctx, "biz-b")
	require.ErrorIs(t, err, ErrSubnetNotFound)
	assert.Contains(t, err.Error(), "its subnets include ")
	assert.Equal(t, maxListedSubnets, strings.Count(err.Error(), `"extra-`)+strings.Count(err.Error(), `"biz-a"`), "a bounded list: %v", err)
	assert.Contains(t, err.Error(), ", …")
	assert.NotContains(t, err.Error(), "other-project")
}

// A 500 with a 100 KiB page, from a URL holding a hundred VM IDs, becomes
// one short line that still says what failed.
func TestDependencyErrorsAreBounded(t *testing.T) {
	s := cloud(t)
	page := "<html>" + strings.Repeat("Internal Server Error secret-ish details ", 2500) + "</html>"
	transport := cannedTransport{bodies: map[string]string{"/v2.0/ports": page}, statuses: map[string]int{"/v2.0/ports": 500}}
	vms := make([]string, 100)
	for i := range vms {
		vms[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	}
	_, err := session(t, s, transport).Ports(context.Background(), vms)
	require.Error(t, err)
	assert.True(t, gophercloud.ResponseCodeIs(err, 500), "the cause stays reachable")
	msg := err.Error()
	assert.LessOrEqual(t, len(msg), maxErrorMessage+100, msg)
	assert.Contains(t, msg, "HTTP 500 from GET "+s.NeutronURL()+"/v2.0/ports?…: <html>Internal Server Error")
	assert.NotContains(t, msg, vms[50], "the query is left out")
	assert.NotContains(t, msg, "\n")
}

func TestPanicInAFetchBecomesAnError(t *testing.T) {
	s := cloud(t)
	transport := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if strings.Contains(r.URL.Path, "/ports") {
			panic(fmt.Sprintf("bug %s", strings.Repeat("x", 1000)))
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	_, err := session(t, s, transport).Ports(context.Background(), []string{testVM})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "recovered panic: bug xxx")
	assert.Less(t, len(err.Error()), 400, "the panic value is cut")
}

func TestDescribedErrorsMaskURLPasswords(t *testing.T) {
	// The Keystone token URL has no query, so it is quoted whole: a
	// user:password in it must still be masked.
	err := describe(gophercloud.ErrUnexpectedResponseCode{
		Method: "POST", URL: "https://admin:s3cret@keystone:5000/v3/auth/tokens", Actual: 500, Body: []byte("boom"),
	})
	assert.NotContains(t, err.Error(), "s3cret")
	assert.Contains(t, err.Error(), "https://admin:xxxxx@keystone:5000/v3/auth/tokens")
}

// decodeJSON's fast decoder only ever makes a good answer cheaper: what it
// refuses is decided by encoding/json as gophercloud did (first value only),
// with encoding/json's own error, and nothing of the refused attempt stays.
func TestDecodeJSONKeepsGophercloudsBehaviour(t *testing.T) {
	std := func(body string, out any) error {
		dec := json.NewDecoder(strings.NewReader(body))
		dec.UseNumber()
		return dec.Decode(out)
	}
	for _, body := range []string{
		`{"ports":[{"id":"p1","device_id":"vm","mac_address":"m"}]} and then some`,
		`{"ports":[{"id":"p1"}]}{"ports":[]}`,
		`{"ports":[{"id":"p1","fixed_ips":[{"subnet_id":7}]}]}`,
		`{"ports":[{"id":"p1","device_id":"vm"},`,
		``,
		"\xff\xfe{}",
		// Pages are given room before decoding: an answer without the list
		// must still decode to a nil list, an empty one to an empty list.
		`{}`,
		`{"ports":[]}`,
		`{"ports":null}`,
		`{"other":{"id":"x","ports":[{"id":"p"}]}}`,
		`{"ports":[{"id":"p1","device_id":"vm","mac_address":"m"}],"ports_links":[{"rel":"next","href":"http://n"}]}`,
	} {
		var got, want portPage
		err, wantErr := decodeJSON([]byte(body), &got), std(body, &want)
		if wantErr != nil {
			require.Error(t, err, body)
			assert.Equal(t, wantErr.Error(), err.Error(), body)
			continue
		}
		require.NoError(t, err, body)
		assert.Equal(t, want, got, body)
	}
}

func TestProjectNetworkMTUsAnswers(t *testing.T) {
	s := cloud(t)
	tests := []struct {
		body    string
		want    map[string]int
		wantErr string
	}{
		{`{}`, nil, `the answer has no "networks" list`},
		{`{"networks":null}`, nil, `the answer has no "networks" list`},
		{`{"networks":[{"mtu":1450}]}`, nil, `networks[0] has no id`},
		{`{"networks":[{"id":"n","mtu":"1450"}]}`, nil, "json: cannot unmarshal string"},
		{`{"networks":[]}`, map[string]int{}, ""},
		{`{"networks":[{"id":"a","mtu":1450},{"id":"b","mtu":null},{"id":"c","subnets":"oops"}]}`, map[string]int{"a": 1450, "b": 0, "c": 0}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			mtus, err := session(t, s, canned("/v2.0/networks", tt.body)).ProjectNetworkMTUs(context.Background())
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), `neutron: list networks of project "project-1": `+tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, mtus, "0 means Neutron reports none; the caller decides")
		})
	}
	mtus, err := session(t, s, nil).ProjectNetworkMTUs(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"net-a": 1450}, mtus, "the fake's own network, through ?project_id and ?fields")
}
