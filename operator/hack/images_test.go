// Package hack holds the build tooling's tests: the images `make images`
// builds, and the README's Go snippets.
package hack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The archives are read back here with the standard library only, not with
// go-containerregistry that wrote them, so a mistake shared by the writer
// and its reader cannot hide.

const (
	testVersion    = "v0.0.0-imagetest"
	testRepository = "registry.example.com:5000/platform"
)

var testImages = map[string]string{ // image → the Go module it must link
	"multinic-operator": "sigs.k8s.io/controller-runtime",
	"viola-test-api":    "k8s.io/client-go",
}

func TestImagesBuildReproduciblyFromGoAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles four binaries twice")
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	revision := gitOutput(t, root, "rev-parse", "HEAD")
	createdUnix := gitOutput(t, root, "log", "-1", "--format=%ct")
	secs, err := strconv.ParseInt(createdUnix, 10, 64)
	require.NoError(t, err)
	created := time.Unix(secs, 0).UTC()

	builder := filepath.Join(t.TempDir(), "imagebuild")
	runCommand(t, root, "go", "-C", "operator/hack/tools/imagebuild", "build", "-o", builder, ".")
	build := func() string {
		out := t.TempDir()
		runCommand(t, root, builder, "-src", root, "-out", out, "-version", testVersion,
			"-revision", revision, "-created", createdUnix, "-repository", testRepository)
		return out
	}
	first := build()

	for name, module := range testImages {
		t.Run(name, func(t *testing.T) {
			ref := testRepository + "/" + name + ":" + testVersion
			multi := readArchive(t, filepath.Join(first, name+"_"+testVersion+".tar"))
			top := multi.onlyEntry(t, "application/vnd.oci.image.index.v1+json", ref)
			assert.Nil(t, multi.dockerManifest, "docker's manifest.json cannot describe several platforms")
			var index struct {
				MediaType string `json:"mediaType"`
				Manifests []struct {
					MediaType string `json:"mediaType"`
					Digest    string `json:"digest"`
					Platform  struct {
						OS           string `json:"os"`
						Architecture string `json:"architecture"`
					} `json:"platform"`
				} `json:"manifests"`
			}
			multi.decode(t, top.Digest, &index)
			var platforms []string
			for _, m := range index.Manifests {
				platform := m.Platform.OS + "/" + m.Platform.Architecture
				platforms = append(platforms, platform)
				assert.Equal(t, "application/vnd.oci.image.manifest.v1+json", m.MediaType)
				files := checkImage(t, multi, m.Digest, name, m.Platform.OS, m.Platform.Architecture, revision, created)

				stem := fmt.Sprintf("%s_%s_%s_%s", name, testVersion, m.Platform.OS, m.Platform.Architecture)
				single := readArchive(t, filepath.Join(first, stem+".tar"))
				entry := single.onlyEntry(t, "application/vnd.oci.image.manifest.v1+json", ref)
				assert.Equal(t, m.Digest, entry.Digest, "the single-platform tar holds the index's image")
				checkDockerManifest(t, single, m.Digest, ref)
				checkSBOM(t, filepath.Join(first, stem+".cdx.json"), name, module, m.Platform.Architecture, m.Digest, revision)

				if platform == runtime.GOOS+"/"+runtime.GOARCH {
					checkVersionOutput(t, files[name].data, name, revision, created)
				}
			}
			assert.ElementsMatch(t, []string{"linux/amd64", "linux/arm64"}, platforms)
		})
	}

	second := build()
	for _, file := range []string{"digests.txt", "SHA256SUMS"} {
		a, err := os.ReadFile(filepath.Join(first, file))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(second, file))
		require.NoError(t, err)
		assert.Equal(t, string(a), string(b), "%s: the same commit must give the same images and files", file)
	}
	digests, err := os.ReadFile(filepath.Join(first, "digests.txt"))
	require.NoError(t, err)
	assert.Len(t, regexp.MustCompile(`(?m)^\S+ (linux/amd64|linux/arm64|index) sha256:[0-9a-f]{64}$`).FindAll(digests, -1), 6, "%s", digests)
	checkSHA256SUMS(t, first)
}

// checkSHA256SUMS: the release's SHA256SUMS lists every other file in it
// (archives, SBOMs, digests.txt) with its SHA-256, so a copy carried to an
// air-gapped registry can be checked whole with `sha256sum -c`.
func checkSHA256SUMS(t *testing.T, dir string) {
	t.Helper()
	sums, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	require.NoError(t, err)
	listed := map[string]string{}
	for line := range strings.Lines(string(sums)) {
		m := regexp.MustCompile(`^([0-9a-f]{64})  (\S+)\n$`).FindStringSubmatch(line)
		require.NotNil(t, m, "SHA256SUMS line %q", line)
		listed[m[2]] = m[1]
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var files []string
	for _, e := range entries {
		if e.Name() == "SHA256SUMS" {
			continue
		}
		files = append(files, e.Name())
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		sum := sha256.Sum256(data)
		assert.Equal(t, hex.EncodeToString(sum[:]), listed[e.Name()], "SHA256SUMS entry of %s", e.Name())
	}
	assert.Len(t, listed, len(files), "SHA256SUMS lists files the release does not have: %v", listed)
	assert.Contains(t, files, "digests.txt")
	assert.Contains(t, files, "multinic-operator_"+testVersion+"_linux_amd64.cdx.json")
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
}

type archive struct {
	files          map[string][]byte
	index          struct{ Manifests []descriptor }
	dockerManifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
}

// readArchive reads a tar as an OCI image layout and checks every blob
// against its name.
func readArchive(t *testing.T, path string) *archive {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	a := &archive{files: map[string][]byte{}}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		a.files[h.Name] = data
		if hexDigest, ok := strings.CutPrefix(h.Name, "blobs/sha256/"); ok {
			sum := sha256.Sum256(data)
			require.Equal(t, hexDigest, hex.EncodeToString(sum[:]), "blob %s of %s", h.Name, path)
		}
	}
	require.JSONEq(t, `{"imageLayoutVersion":"1.0.0"}`, string(a.files["oci-layout"]))
	require.NoError(t, json.Unmarshal(a.files["index.json"], &a.index), "index.json of %s", path)
	if m, ok := a.files["manifest.json"]; ok {
		require.NoError(t, json.Unmarshal(m, &a.dockerManifest))
	}
	return a
}

func (a *archive) blob(t *testing.T, digest string) []byte {
	t.Helper()
	data, ok := a.files["blobs/"+strings.Replace(digest, ":", "/", 1)]
	require.True(t, ok, "blob %s is missing", digest)
	return data
}

func (a *archive) decode(t *testing.T, digest string, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(a.blob(t, digest), v))
}

// onlyEntry is index.json's one entry, named for containerd and OCI tools.
func (a *archive) onlyEntry(t *testing.T, mediaType, ref string) descriptor {
	t.Helper()
	require.Len(t, a.index.Manifests, 1)
	d := a.index.Manifests[0]
	assert.Equal(t, mediaType, d.MediaType)
	assert.Equal(t, int64(len(a.blob(t, d.Digest))), d.Size)
	assert.Equal(t, ref, d.Annotations["io.containerd.image.name"], "ctr import and nerdctl load name the image from this")
	assert.Equal(t, testVersion, d.Annotations["org.opencontainers.image.ref.name"])
	return d
}

type file struct {
	header *tar.Header
	data   []byte
}

// checkImage checks an image's config and layers and returns its files.
func checkImage(t *testing.T, a *archive, digest, name, goos, arch, revision string, created time.Time) map[string]file {
	t.Helper()
	var manifest struct {
		Config descriptor
		Layers []descriptor
	}
	a.decode(t, digest, &manifest)
	assert.Equal(t, "application/vnd.oci.image.config.v1+json", manifest.Config.MediaType)
	var config struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Created      time.Time
		Config       struct {
			User       string
			Entrypoint []string
			Labels     map[string]string
		} `json:"config"`
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	a.decode(t, manifest.Config.Digest, &config)
	assert.Equal(t, goos, config.OS)
	assert.Equal(t, arch, config.Architecture)
	assert.True(t, created.Equal(config.Created), "created is the commit time %s, got %s", created, config.Created)
	assert.Equal(t, "65532:65532", config.Config.User)
	assert.Equal(t, []string{"/" + name}, config.Config.Entrypoint)
	for key, want := range map[string]string{
		"version":  testVersion,
		"revision": revision,
		"source":   "https://github.com/multinic/multinic",
		"created":  created.Format(time.RFC3339),
		"title":    name,
	} {
		assert.Equal(t, want, config.Config.Labels["org.opencontainers.image."+key], key)
	}

	require.Len(t, config.RootFS.DiffIDs, len(manifest.Layers))
	files := map[string]file{}
	for i, l := range manifest.Layers {
		assert.Equal(t, "application/vnd.oci.image.layer.v1.tar+gzip", l.MediaType)
		zr, err := gzip.NewReader(bytes.NewReader(a.blob(t, l.Digest)))
		require.NoError(t, err)
		raw, err := io.ReadAll(zr)
		require.NoError(t, err)
		sum := sha256.Sum256(raw)
		assert.Equal(t, config.RootFS.DiffIDs[i], "sha256:"+hex.EncodeToString(sum[:]), "diff_id of layer %d", i)
		tr := tar.NewReader(bytes.NewReader(raw))
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			data, err := io.ReadAll(tr)
			require.NoError(t, err)
			assert.True(t, created.Equal(h.ModTime), "%s: mtime %s is not the commit time", h.Name, h.ModTime)
			files[strings.TrimSuffix(h.Name, "/")] = file{h, data}
		}
	}

	assert.Contains(t, string(files["etc/passwd"].data), "nonroot:x:65532:65532:")
	assert.Contains(t, string(files["etc/group"].data), "nonroot:x:65532:")
	if tmp, ok := files["tmp"]; assert.True(t, ok, "/tmp") {
		assert.Equal(t, byte(tar.TypeDir), tmp.header.Typeflag)
		assert.Equal(t, int64(0o1777), tmp.header.Mode&0o7777, "/tmp is world-writable and sticky")
	}
	if home, ok := files["home/nonroot"]; assert.True(t, ok, "/home/nonroot") {
		assert.Equal(t, 65532, home.header.Uid)
	}
	roots := x509.NewCertPool()
	assert.True(t, roots.AppendCertsFromPEM(files["etc/ssl/certs/ca-certificates.crt"].data), "CA roots")
	assert.Greater(t, strings.Count(string(files["etc/ssl/certs/ca-certificates.crt"].data), "BEGIN CERTIFICATE"), 100)
	bin, ok := files[name]
	require.True(t, ok, "/%s", name)
	assert.Equal(t, int64(0o755), bin.header.Mode)
	assert.Equal(t, 0, bin.header.Uid)
	assert.True(t, bytes.HasPrefix(bin.data, []byte("\x7fELF")), "an ELF binary")
	return files
}

func checkDockerManifest(t *testing.T, a *archive, digest, ref string) {
	t.Helper()
	require.Len(t, a.dockerManifest, 1, "manifest.json for docker load and crane push")
	var manifest struct {
		Config descriptor
		Layers []descriptor
	}
	a.decode(t, digest, &manifest)
	d := a.dockerManifest[0]
	assert.Equal(t, []string{ref}, d.RepoTags)
	assert.Equal(t, "blobs/sha256/"+strings.TrimPrefix(manifest.Config.Digest, "sha256:"), d.Config)
	require.Len(t, d.Layers, len(manifest.Layers))
	for i, l := range manifest.Layers {
		assert.Equal(t, "blobs/sha256/"+strings.TrimPrefix(l.Digest, "sha256:"), d.Layers[i])
	}
}

func checkSBOM(t *testing.T, path, name, module, arch, digest, revision string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var bom struct {
		BOMFormat    string `json:"bomFormat"`
		SpecVersion  string `json:"specVersion"`
		SerialNumber string `json:"serialNumber"`
		Metadata     struct {
			Component struct{ Type, Name, Version, PURL string }
		}
		Components []struct {
			Name, Version, PURL string
			Properties          []struct{ Name, Value string }
		}
	}
	require.NoError(t, json.Unmarshal(raw, &bom))
	assert.Equal(t, "CycloneDX", bom.BOMFormat)
	assert.Equal(t, "1.5", bom.SpecVersion)
	assert.Regexp(t, `^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, bom.SerialNumber)
	assert.Equal(t, "container", bom.Metadata.Component.Type)
	assert.Equal(t, name, bom.Metadata.Component.Name)
	assert.Equal(t, testVersion, bom.Metadata.Component.Version)
	assert.Contains(t, bom.Metadata.Component.PURL, strings.Replace(digest, ":", "%3A", 1)+"?arch="+arch)
	versions := map[string]string{}
	props := map[string]string{}
	for _, c := range bom.Components {
		versions[c.Name] = c.Version
		if c.Name == "github.com/multinic/multinic" {
			for _, p := range c.Properties {
				props[p.Name] = p.Value
			}
		}
	}
	assert.Equal(t, testVersion, versions["github.com/multinic/multinic"])
	assert.Equal(t, runtime.Version(), versions["std"])
	want := goModVersion(t, module)
	assert.Equal(t, want, versions[module], "the SBOM lists %s at go.mod's version", module)
	assert.Equal(t, revision, props["go:revision"])
	assert.Equal(t, arch, props["go:build:GOARCH"])
	assert.Equal(t, "0", props["go:build:CGO_ENABLED"], "a static binary")
}

// goModVersion is the version go.mod selects for a module.
func goModVersion(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", module).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

func checkVersionOutput(t *testing.T, binary []byte, name, revision string, created time.Time) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, binary, 0o755))
	out, err := exec.Command(path, "--version").CombinedOutput()
	require.NoError(t, err, "%s --version: %s", name, out)
	want := fmt.Sprintf(`^%s %s \(commit %s(, modified)?, built %s, go1\.\S+ %s/%s\)\n$`,
		name, regexp.QuoteMeta(testVersion), revision, regexp.QuoteMeta(created.Format(time.RFC3339)), runtime.GOOS, runtime.GOARCH)
	assert.Regexp(t, want, string(out))
}

func gitOutput(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	require.NoError(t, err, "git %s", strings.Join(args, " "))
	return strings.TrimSpace(string(out))
}

func runCommand(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	require.NoError(t, cmd.Run(), "%s %s\n%s", name, strings.Join(args, " "), out.String())
	t.Logf("%s %s: %s", filepath.Base(name), strings.Join(args[:min(len(args), 2)], " "), time.Since(start).Round(time.Second))
}
