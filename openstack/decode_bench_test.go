package openstack

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/multinic/multinic/openstack/openstacktest"
)

// BenchmarkDecodePage decodes the two pages a fleet pass reads most of, as
// the fake renders them: a ports batch of 100 VMs (4 ports each, limited to
// portFields) and a detailed server listing page of 1000 servers, as an
// admin sees it at ComputeMicroversion. "std" is
// what gophercloud did with them (json.Decoder, UseNumber); "fast" is
// decodeJSON.
func BenchmarkDecodePage(b *testing.B) {
	cloud := openstacktest.NewServer()
	defer cloud.Close()
	fleet := cloud.AddFleet(openstacktest.Fleet{VMs: 1000, TargetSubnets: 2, TargetPortsPerVM: 3, OtherPortsPerVM: 1})
	sess := session(b, cloud, nil)
	ports, _ := portQuery{projectID: sess.projectID, deviceIDs: fleet.VMIDs[:100]}.ToPortListQuery()
	pages := []struct {
		name string
		url  string
		into func() any
	}{
		{"ports=400", sess.network.ServiceURL("ports") + ports, func() any { return new(portPage) }},
		{"servers-detail=1000", sess.compute.ServiceURL("servers", "detail") + "?" + url.Values{"limit": {"1000"}}.Encode(), func() any { return new(serverPage) }},
	}
	for _, page := range pages {
		body := rawGet(b, sess, page.url)
		b.Run(page.name+"/std", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				dec := json.NewDecoder(bytes.NewReader(body))
				dec.UseNumber()
				if err := dec.Decode(page.into()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(page.name+"/fast", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := decodeJSON(body, page.into()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func rawGet(b *testing.B, sess *Session, u string) []byte {
	b.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", sess.provider.Token())
	req.Header.Set("OpenStack-API-Version", "compute "+ComputeMicroversion)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return body
}
