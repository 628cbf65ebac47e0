package cli_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/contrabass/contrabasstest"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// TestCheckTLS: behind an untrusted certificate, the failing step names the
// setting that skips verification (or the CA to trust), and passes once it
// is set.
func TestCheckTLS(t *testing.T) {
	t.Run("contrabass", func(t *testing.T) {
		w := newWorld(t)
		secure := contrabasstest.NewTLSServer(multinictest.EncryptKey)
		t.Cleanup(secure.Close)
		secure.AddProvider(multinictest.ProviderID, contrabasstest.ProviderSpec{
			AdminID: openstacktest.DefaultUserName, AdminPassword: multinictest.AdminPassword,
			Domain: openstacktest.DefaultUserDomainName, KeystoneURL: w.env.OpenStack.URL,
		})
		w.env.Contrabass.URL = secure.URL // what the CR and the normaliser use
		key := w.file(t, "key", multinictest.EncryptKey)
		got := run(t, "check", "-f", w.file(t, "cr.yaml", w.crYAML(subnetsAB, "", false)), "--encrypt-key-file", key)
		assert.Equal(t, 1, got.code)
		assert.Contains(t, got.stdout, "(its TLS certificate is not trusted: trust its CA, or set settings.contrabassInsecureTLS to true)")
		assert.Contains(t, got.stdout, "fix: trust the CA, or set the named *InsecureTLS setting")

		got = run(t, "check", "-f", w.file(t, "cr-insecure.yaml", w.crYAML(subnetsAB, "    contrabassInsecureTLS: true\n", false)), "--encrypt-key-file", key)
		assert.Equal(t, 0, got.code, got.stdout)
	})
	t.Run("viola", func(t *testing.T) {
		w := newWorld(t)
		viola := httptest.NewTLSServer(http.NotFoundHandler())
		t.Cleanup(viola.Close)
		w.createSecret(t, "contrabass-encrypt-key", map[string]string{"CONTRABASS_ENCRYPT_KEY": multinictest.EncryptKey})
		w.createCR(t, func(oc *v1alpha1.OpenstackConfig) { oc.Spec.Settings.ViolaEndpoint = viola.URL })
		args := w.kube("check", "biz-cluster-1", "--inventory-url", w.inventoryURL)
		got := run(t, args...)
		require.Equal(t, 1, got.code)
		assert.Contains(t, got.stdout, "! the operator's VIOLA_INSECURE_TLS is unknown, so the certificate is verified (--viola-insecure-tls if the operator skips it): no operator Deployment of release \"multinic-operator\" in namespace multinic-operator-system")
		assert.Contains(t, got.stdout, "(its TLS certificate is not trusted: trust its CA, or set the operator's VIOLA_INSECURE_TLS or this tool's --viola-insecure-tls to true)")

		got = run(t, append(args, "--viola-insecure-tls")...)
		assert.Equal(t, 0, got.code, got.stdout)
		assert.Contains(t, got.stdout, "certificate NOT verified (insecure TLS is on)")
	})
}

// TestURLCredentialsAreNotPrinted: a password in an endpoint URL is a
// secret like the key; neither the settings nor a failure shows it.
func TestURLCredentialsAreNotPrinted(t *testing.T) {
	w := newWorld(t)
	const password = "s3cr3t-in-url"
	viola := strings.Replace(w.refusedURL(t, "refused-viola"), "http://", "http://ops:"+password+"@", 1)
	contrabass := strings.Replace(w.env.Contrabass.URL, "http://", "http://ops:"+password+"@", 1)
	cr := strings.Replace(w.crYAML(subnetsAB, "", true), "contrabassEndpoint: "+w.env.Contrabass.URL, "contrabassEndpoint: "+contrabass, 1)
	for _, output := range []string{"text", "json"} {
		got := run(t, "check", "-f", w.file(t, "cr.yaml", cr), "--encrypt-key-file", w.file(t, "key", multinictest.EncryptKey), "--viola-endpoint", viola, "-o", output)
		assert.Equal(t, 1, got.code, "Viola refuses")
		assert.NotContains(t, got.stdout+got.stderr, password)
		assert.Contains(t, got.stdout, "ops:xxxxx@", "the URL is shown, its password masked")
	}
}
