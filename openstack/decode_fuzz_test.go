package openstack_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/multinic/multinic/openstack"
)

// The fuzz targets feed outside bytes to every decoder of a Keystone,
// Neutron or Nova answer, through the real path: gophercloud, the retrying
// client with its body limit, and our checks. The property: no panic, and
// either an error that is one bounded line without the password, or a
// result that keeps the invariants the flow relies on. Each runs its seeds
// in go test; fuzz with e.g. go test -fuzz FuzzPorts ./openstack/.

const (
	fuzzPassword = "fuzz-Adm1n-pw-7f3a"
	fuzzVM1      = "00000000-0000-4000-8000-000000000001"
	fuzzVM2      = "00000000-0000-4000-8000-000000000002"
	// maxFuzzErrorBytes bounds an error message: dependency text is cut
	// to a short excerpt before it reaches status, events and logs.
	maxFuzzErrorBytes = 2048
)

// fuzzToken is a valid Keystone answer: a project-scoped token whose
// catalog has Neutron and Nova, public and internal, in two regions.
const fuzzToken = `{"token":{"methods":["password"],"expires_at":"2099-01-01T00:00:00.000000Z","issued_at":"2026-01-01T00:00:00.000000Z",
"user":{"id":"u1","name":"admin","domain":{"id":"default","name":"Default"}},
"project":{"id":"project-1","name":"project-1","domain":{"id":"default","name":"Default"}},
"catalog":[
 {"type":"network","name":"neutron","id":"s1","endpoints":[
  {"id":"e1","interface":"public","region":"RegionOne","region_id":"RegionOne","url":"http://cloud.invalid/neutron/"},
  {"id":"e2","interface":"internal","region":"RegionTwo","region_id":"RegionTwo","url":"http://internal.invalid/neutron"}]},
 {"type":"compute","name":"nova","id":"s2","endpoints":[
  {"id":"e3","interface":"public","region":"RegionOne","region_id":"RegionOne","url":"http://cloud.invalid/nova/v2.1"}]}]}}`

// brokenBodies are the fault matrix's broken answers, shaped for any of the
// services: every fuzz target starts from them.
var brokenBodies = []string{
	"", " ", "{}", "[]", "null", "true", "42", `"text"`, "{", `{"`, "<html><body>502 Bad Gateway</body></html>",
	`{"padding":"` + strings.Repeat("x", 4096) + `"}`,
	"\xff\xfe{}", `{"a":1e999}`, `{"a":"\u0000"}`,
}

// fuzzTransport answers the token request with token (and an
// X-Subject-Token), any path under one of routes with that body, and
// everything else with a 404.
type fuzzTransport struct {
	token  []byte
	status int
	routes map[string][]byte
}

func (f fuzzTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	respond := func(status int, body []byte) (*http.Response, error) {
		return &http.Response{
			StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:        http.Header{"Content-Type": {"application/json"}, "X-Subject-Token": {"gAAAAAB-fuzz-token"}},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
			Request:       r,
		}, nil
	}
	if strings.HasSuffix(r.URL.Path, "/auth/tokens") {
		return respond(http.StatusCreated, f.token)
	}
	for path, body := range f.routes {
		if strings.Contains(r.URL.Path, path) {
			return respond(f.status, body)
		}
	}
	return respond(http.StatusNotFound, []byte(`{"NeutronError":{"type":"HTTPNotFound","message":"not found","detail":""}}`))
}

func fuzzOptions(transport http.RoundTripper) openstack.Options {
	return openstack.Options{
		Transport: transport,
		RetryMax:  -1, // an answer is served from memory: nothing to retry
		Timeout:   10 * time.Second,
	}
}

func fuzzCredentials() openstack.Credentials {
	return openstack.Credentials{IdentityURL: "http://keystone.invalid:5000", UserName: "admin", UserDomainName: "default", Password: fuzzPassword, ProjectID: "project-1"}
}

// fuzzSession authenticates against the canned token and serves body (with
// status 200) on every path containing route.
func fuzzSession(t *testing.T, route string, body []byte) *openstack.Session {
	t.Helper()
	transport := fuzzTransport{token: []byte(fuzzToken), status: http.StatusOK, routes: map[string][]byte{route: body}}
	session, err := openstack.Authenticate(context.Background(), fuzzCredentials(), fuzzOptions(transport))
	if err != nil {
		t.Fatalf("the canned token must authenticate: %v", err)
	}
	return session
}

// checkError holds every error to what reaches CR status and logs.
func checkError(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	switch {
	case len(msg) > maxFuzzErrorBytes:
		t.Fatalf("error of %d bytes: %.300s…", len(msg), msg)
	case strings.Contains(msg, fuzzPassword):
		t.Fatalf("error quotes the password: %s", msg)
	}
}

// checkEndpoint holds a chosen endpoint to what the service clients need.
func checkEndpoint(t *testing.T, kind string, endpoint string, err error) {
	t.Helper()
	if err != nil {
		checkError(t, err)
		return
	}
	u, parseErr := url.Parse(endpoint)
	if parseErr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.HasSuffix(endpoint, "/") {
		t.Fatalf("%s endpoint %q is not an absolute http(s) URL without a trailing slash", kind, endpoint)
	}
}

func FuzzKeystoneToken(f *testing.F) {
	f.Add([]byte(fuzzToken))
	for _, b := range brokenBodies {
		f.Add([]byte(b))
	}
	for _, b := range []string{
		`{"token":null}`, `{"token":{}}`, `{"token":[]}`, `{"token":"x"}`,
		`{"token":{"expires_at":12,"catalog":"none","project":[]}}`,
		`{"token":{"expires_at":"2099-01-01T00:00:00Z","catalog":null}}`,
		`{"token":{"expires_at":"not a time","catalog":[]}}`,
		`{"token":{"expires_at":"2099-01-01T00:00:00Z","catalog":[null,{"type":"network","endpoints":null}]}}`,
		`{"token":{"expires_at":"2099-01-01T00:00:00Z","catalog":[{"type":"network","endpoints":[{"interface":"public","url":""}]}]}}`,
		`{"token":{"expires_at":"2099-01-01T00:00:00Z","catalog":[{"type":"network","endpoints":[{"interface":"public","url":"ftp://x/"}]},{"type":"compute","endpoints":[{"interface":"PUBLIC","url":"http://[::1"}]}]}}`,
		`{"token":{"expires_at":"2099-01-01T00:00:00Z","catalog":[{"type":"network","endpoints":[{"interface":"public","url":"http://user:` + fuzzPassword + `@n/"}]}]}}`,
		`{"error":{"code":401,"message":"The request you have made requires authentication.","title":"Unauthorized"}}`,
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, region := range []string{"", "RegionTwo"} {
			opts := fuzzOptions(fuzzTransport{token: body})
			opts.EndpointRegion = region
			session, err := openstack.Authenticate(context.Background(), fuzzCredentials(), opts)
			if err != nil {
				checkError(t, err)
				var authErr *openstack.AuthError
				if !errors.As(err, &authErr) {
					t.Fatalf("a bad token answer must be an *AuthError (KeystoneError), got %T: %v", err, err)
				}
				continue
			}
			neutron, err := session.NeutronEndpoint()
			checkEndpoint(t, "network", neutron, err)
			nova, err := session.NovaEndpoint()
			checkEndpoint(t, "compute", nova, err)
		}
	})
}

func FuzzPorts(f *testing.F) {
	valid := fmt.Sprintf(`{"ports":[{"id":"p1","network_id":"net-a","status":"ACTIVE","mac_address":"fa:16:3e:00:00:01","device_id":%q,
"created_at":"2026-01-02T03:04:05","fixed_ips":[{"subnet_id":"sub-a","ip_address":"10.0.0.11"}]},
{"id":"p2","network_id":"net-b","status":"DOWN","mac_address":"fa:16:3e:00:00:02","device_id":%q,"created_at":"yesterday","fixed_ips":[]}]}`, fuzzVM1, fuzzVM2)
	f.Add([]byte(valid))
	for _, b := range brokenBodies {
		f.Add([]byte(b))
	}
	for _, b := range []string{
		`{"ports":null}`, `{"ports":[]}`, `{"ports":{}}`, `{"ports":[null]}`, `{"ports":[{}]}`,
		`{"ports":[{"id":1,"device_id":true,"mac_address":[],"fixed_ips":"10.0.0.1"}]}`,
		`{"ports":[{"id":"p","device_id":"` + fuzzVM1 + `","mac_address":"m","fixed_ips":[null,{"subnet_id":7}]}]}`,
		`{"ports":[{"id":"p","device_id":"someone-else","mac_address":"m"}]}`,
		`{"ports":[],"ports_links":[{"rel":"next","href":"http://cloud.invalid/neutron/v2.0/ports?marker=p"}]}`,
		`{"ports":[],"ports_links":[{"rel":"next","href":"::not a url"}]}`,
		`{"ports":[],"ports_links":"next"}`,
		`{"NeutronError":{"type":"HTTPServiceUnavailable","message":"Service Unavailable","detail":""}}`,
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		session := fuzzSession(t, "/v2.0/ports", body)
		vmIDs := []string{fuzzVM1, fuzzVM2}
		ports, err := session.Ports(context.Background(), vmIDs)
		if err != nil {
			checkError(t, err)
			return
		}
		for _, p := range ports {
			if p.ID == "" || p.MACAddress == "" {
				t.Fatalf("port without id or MAC accepted: %+v", p)
			}
			if p.DeviceID != fuzzVM1 && p.DeviceID != fuzzVM2 {
				t.Fatalf("port of VM %q, which was not asked for", p.DeviceID)
			}
		}
	})
}

func FuzzSubnetAndNetwork(f *testing.F) {
	f.Add([]byte(`{"subnet":{"id":"sub-a","name":"biz-a","network_id":"net-a","cidr":"10.0.0.0/24"},"network":{"id":"net-a","mtu":1450},"subnets":[{"id":"sub-a","name":"biz-a","network_id":"net-a","cidr":"10.0.0.0/24"}]}`))
	for _, b := range brokenBodies {
		f.Add([]byte(b))
	}
	for _, b := range []string{
		`{"subnet":null}`, `{"subnet":{}}`, `{"subnet":[]}`, `{"subnet":{"id":7,"network_id":false,"cidr":["10.0.0.0/24"]}}`,
		`{"subnet":{"id":"sub-a","network_id":"net-a"}}`,
		`{"network":null}`, `{"network":{}}`, `{"network":{"id":"net-a","mtu":null}}`, `{"network":{"mtu":"1450"}}`,
		`{"network":{"mtu":-1}}`, `{"network":{"mtu":99999999999999999999}}`, `{"network":{"mtu":1450.5}}`,
		`{"subnets":null}`, `{"subnets":[null]}`, `{"subnets":[{"name":"biz-a"}]}`,
		`{"subnets":[{"id":"a","name":"biz-a","network_id":"n","cidr":"c"},{"id":"b","name":"biz-a","network_id":"n","cidr":"c"}]}`,
		`{"subnets":[],"subnets_links":[{"rel":"next","href":"http://cloud.invalid/neutron/v2.0/subnets?marker=x"}]}`,
		`{"networks":[{"id":"net-a","mtu":1450},{"id":"net-b","mtu":null},{"id":"net-c"}]}`,
		`{"networks":null}`, `{"networks":[null]}`, `{"networks":[{"mtu":"1450"}]}`, `{"networks":[{"id":7}]}`,
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx := context.Background()
		// One body serves the subnet, the subnet list and the network, so
		// one input reaches all three decoders.
		transport := fuzzTransport{token: []byte(fuzzToken), status: http.StatusOK, routes: map[string][]byte{"/v2.0/subnets": body, "/v2.0/networks": body}}
		session, err := openstack.Authenticate(ctx, fuzzCredentials(), fuzzOptions(transport))
		if err != nil {
			t.Fatalf("the canned token must authenticate: %v", err)
		}
		checkSubnet := func(sn openstack.Subnet, err error) {
			if err != nil {
				checkError(t, err)
				return
			}
			if sn.ID == "" || sn.NetworkID == "" || sn.CIDR == "" {
				t.Fatalf("subnet without id, network or CIDR accepted: %+v", sn)
			}
		}
		checkSubnet(session.Subnet(ctx, "sub-a"))
		byName, err := session.SubnetByName(ctx, "biz-a")
		checkSubnet(byName, err)
		if err == nil && byName.Name != "biz-a" {
			t.Fatalf("lookup by name biz-a found %q", byName.Name)
		}
		if _, err := session.NetworkMTU(ctx, "net-a"); err != nil {
			checkError(t, err)
		}
		mtus, err := session.ProjectNetworkMTUs(ctx)
		if err != nil {
			checkError(t, err)
		}
		for id := range mtus {
			if id == "" {
				t.Fatalf("network without id accepted: %v", mtus)
			}
		}
	})
}

func FuzzServers(f *testing.F) {
	f.Add([]byte(fmt.Sprintf(`{"server":{"id":%q,"name":"worker-1","metadata":{"k8s-node":"Worker-1"}},"servers":[{"id":%q,"name":"worker-1","metadata":{}}]}`, fuzzVM1, fuzzVM1)))
	f.Add([]byte(fmt.Sprintf(`{"server":{"id":%q,"name":"Worker_1","OS-EXT-SRV-ATTR:hostname":"worker-1"},"servers":[{"id":%q,"name":"w","OS-EXT-SRV-ATTR:hostname":null}]}`, fuzzVM1, fuzzVM1)))
	f.Add([]byte(fmt.Sprintf(`{"server":{"id":%q,"name":"w","OS-EXT-SRV-ATTR:hostname":7}}`, fuzzVM1)))
	for _, b := range brokenBodies {
		f.Add([]byte(b))
	}
	for _, b := range []string{
		`{"server":null}`, `{"server":{}}`, `{"server":{"id":1,"name":42,"metadata":"k8s"}}`,
		`{"server":{"id":"` + fuzzVM2 + `","name":"someone-else"}}`,
		`{"server":{"id":"` + fuzzVM1 + `","name":"","metadata":null}}`,
		`{"server":{"id":"` + fuzzVM1 + `","name":"w","metadata":{"k8s-node":7}}}`,
		`{"servers":null}`, `{"servers":[null]}`, `{"servers":[{"name":"no id"}]}`,
		`{"servers":[],"servers_links":[{"rel":"next","href":"http://cloud.invalid/nova/v2.1/servers?marker=x"}]}`,
		`{"itemNotFound":{"code":404,"message":"Instance could not be found."}}`,
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		session := fuzzSession(t, "/servers", body)
		// One VM is read on its own, more than ten through the list.
		few := []string{fuzzVM1}
		many := make([]string, 11)
		for i := range many {
			many[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1)
		}
		for _, vmIDs := range [][]string{few, many} {
			found, failed, err := session.Servers(context.Background(), vmIDs)
			if err != nil {
				checkError(t, err)
				continue
			}
			for _, id := range vmIDs {
				srv, ok := found[id]
				vmErr, bad := failed[id]
				switch {
				case ok == bad:
					t.Fatalf("VM %s must be found or failed, not both or neither (found %v, failed %v)", id, ok, bad)
				case ok && srv.ID != id:
					t.Fatalf("VM %s answered by server %q", id, srv.ID)
				case bad:
					checkError(t, vmErr)
				}
				if ok {
					srv.NodeName("k8s-node") // any answer names a node or says it cannot, never panics
				}
			}
			if len(found)+len(failed) != len(vmIDs) {
				t.Fatalf("%d found and %d failed for %d VMs asked", len(found), len(failed), len(vmIDs))
			}
		}
	})
}

// The harness must reach the decoders: valid answers decode into results.
func TestFuzzHarnessDecodesValidAnswers(t *testing.T) {
	ctx := context.Background()
	session := fuzzSession(t, "/v2.0/ports", []byte(fmt.Sprintf(`{"ports":[{"id":"p1","mac_address":"m","device_id":%q}]}`, fuzzVM1)))
	neutron, err := session.NeutronEndpoint()
	if err != nil || neutron != "http://cloud.invalid/neutron" {
		t.Fatalf("neutron endpoint %q, %v", neutron, err)
	}
	ports, err := session.Ports(ctx, []string{fuzzVM1})
	if err != nil || len(ports) != 1 {
		t.Fatalf("ports %v, %v", ports, err)
	}

	session = fuzzSession(t, "/v2.0/subnets", []byte(`{"subnet":{"id":"sub-a","network_id":"net-a","cidr":"10.0.0.0/24"}}`))
	if sn, err := session.Subnet(ctx, "sub-a"); err != nil || sn.CIDR != "10.0.0.0/24" {
		t.Fatalf("subnet %+v, %v", sn, err)
	}

	session = fuzzSession(t, "/servers", []byte(fmt.Sprintf(`{"server":{"id":%q,"name":"worker-1"}}`, fuzzVM1)))
	found, failed, err := session.Servers(ctx, []string{fuzzVM1})
	if err != nil || found[fuzzVM1].Name != "worker-1" || len(failed) != 0 {
		t.Fatalf("servers %v %v %v", found, failed, err)
	}
}
