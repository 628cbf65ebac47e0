package contrabass_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/contrabass/internal/aescbc"
)

// bodyTransport answers every request with status and body.
type bodyTransport struct {
	status int
	body   []byte
}

func (b bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: b.status, Status: http.StatusText(b.status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(b.body)),
		ContentLength: int64(len(b.body)),
		Request:       r,
	}, nil
}

// FuzzGetProvider feeds outside bytes to the Contrabass envelope decoder and
// on to the password decryption, through the real client (retrying client
// and body limit included). The property: no panic, and either an error that
// is one bounded line without the encrypted or decrypted password, or a
// provider with everything the flow needs.
func FuzzGetProvider(f *testing.F) {
	encrypted, err := aescbc.Encrypt(key128, adminPassword, nil)
	if err != nil {
		f.Fatal(err)
	}
	valid := `{"returnCode":"200","returnMessage":"COMMON_OK","data":{"uuid":"prov-1","url":"https://keystone:15000",
"attributes":{"adminId":"admin","adminPw":"` + encrypted + `","domain":"default","rabbitMQUrls":["h:5672"]}}}`
	for _, seed := range []string{
		valid, strings.Replace(valid, `"200"`, `200`, 1), strings.Replace(valid, encrypted, "not base64!", 1),
		strings.Replace(valid, encrypted, "QUFBQUFBQUFBQUFBQUFBQQ==", 1),
		"", " ", "{}", "[]", "null", "{", `{"returnCode":"200","returnMessage":"COMMON_OK","data":{"url":"http://`,
		`{"returnCode":["200"],"returnMessage":7,"data":{"url":42,"attributes":"admin"}}`,
		`{"returnCode":"200","returnMessage":"COMMON_OK"}`, `{"returnCode":"200","data":null}`,
		`{"returnCode":"200","data":{"url":"https://k","attributes":null}}`,
		`{"returnCode":"500","returnMessage":"` + strings.Repeat("boom ", 1000) + `"}`,
		`{"returnCode":"` + strings.Repeat("9", 5000) + `"}`,
		`{"returnCode":1e999}`, `{"returnCode":true}`, `{"returnCode":null,"data":{}}`,
		"<html><body>502 Bad Gateway</body></html>", "\xff\xfe{}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		client, err := contrabass.NewClient(contrabass.Options{
			Endpoint:   "http://contrabass.invalid",
			RetryMax:   -1,
			Timeout:    10 * time.Second,
			HTTPClient: &http.Client{Transport: bodyTransport{status: http.StatusOK, body: body}},
		})
		if err != nil {
			t.Fatal(err)
		}
		provider, err := client.GetProvider(context.Background(), "prov-1")
		if err != nil {
			checkProviderError(t, err, encrypted)
			return
		}
		if provider.URL == "" || provider.Attributes.AdminPw == "" {
			t.Fatalf("provider without Keystone URL or adminPw accepted: %+v", provider)
		}
		password, err := provider.AdminPassword(key128)
		if err != nil {
			checkProviderError(t, err, encrypted)
			return
		}
		if password == "" {
			t.Fatal("an empty password decrypted without error")
		}
	})
}

func checkProviderError(t *testing.T, err error, encrypted string) {
	t.Helper()
	msg := err.Error()
	switch {
	case len(msg) > 1024:
		t.Fatalf("error of %d bytes: %.300s…", len(msg), msg)
	case strings.ContainsAny(msg, "\n\r"):
		t.Fatalf("error spans lines: %q", msg)
	case strings.Contains(msg, adminPassword), strings.Contains(msg, encrypted):
		t.Fatalf("error quotes the password: %s", msg)
	}
}
