package main

import (
	"archive/tar"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// These tests take the archives the way `crane push` does (the
// single-platform tar as a docker tarball, the multi-platform one as an OCI
// layout directory) and push them to an in-process registry. The end-to-end
// test of `make images` is operator/hack/images_test.go in the main module.

func testConfig(t *testing.T) config {
	t.Helper()
	return config{
		version: "v1.2.3", revision: strings.Repeat("ab", 20), created: time.Unix(1767225600, 0).UTC(),
		source: "https://example.com/src", repository: "registry.example.com/team",
		platforms: []platform{{"linux", "amd64"}, {"linux", "arm64"}},
	}
}

func testImage(t *testing.T, c config, p platform) v1.Image {
	t.Helper()
	entries, err := baseFS()
	if err != nil {
		t.Fatal(err)
	}
	base, err := newLayer(entries, c.created)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(bin, []byte("not really a "+p.arch+" binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	img, err := assemble(c, images[0], p, base, entries, bin)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSinglePlatformArchiveLoadsBothWaysAndPushesWithItsDigest(t *testing.T) {
	c := testConfig(t)
	img := testImage(t, c, c.platforms[0])
	path := filepath.Join(t.TempDir(), "one.tar")
	if _, err := writeImageArchive(path, c, images[0], img); err != nil {
		t.Fatal(err)
	}

	// crane push FILE reads docker's manifest.json and writes a new
	// manifest (docker media types) around the same config and layers.
	tag, err := name.NewTag(c.reference(images[0]))
	if err != nil {
		t.Fatal(err)
	}
	docker, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatalf("manifest.json does not tag the image %s: %v", tag, err)
	}
	if got, want := configAndLayers(t, docker), configAndLayers(t, img); got != want {
		t.Fatalf("docker tarball reader sees %s, want %s", got, want)
	}

	// crane push DIR of the unpacked tar keeps the manifest, so the
	// registry shows the digest of digests.txt.
	l, err := layout.ImageIndexFromPath(untar(t, path))
	if err != nil {
		t.Fatal(err)
	}
	top, err := l.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || !top.Manifests[0].MediaType.IsImage() {
		t.Fatalf("index.json: %+v", top.Manifests)
	}
	fromLayout, err := l.Image(top.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	ref := pushTarget(t, "multinic-operator:v1.2.3")
	if err := remote.Write(ref, fromLayout); err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := digestOf(t, pulled), digestOf(t, img); got != want {
		t.Fatalf("pushed digest %s, want %s", got, want)
	}
	cf, err := pulled.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || cf.Config.Labels["org.opencontainers.image.version"] != "v1.2.3" {
		t.Fatalf("config after the round trip: user %q, labels %v", cf.Config.User, cf.Config.Labels)
	}
}

// configAndLayers names an image's content, whatever its manifest's format.
func configAndLayers(t *testing.T, img v1.Image) string {
	t.Helper()
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	names := []string{cfg.String()}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		names = append(names, digestOf(t, l).String())
	}
	return strings.Join(names, " ")
}

func TestIndexArchiveIsAnOCILayoutThatPushesAsOneMultiPlatformImage(t *testing.T) {
	c := testConfig(t)
	var adds []mutate.IndexAddendum
	for _, p := range c.platforms {
		adds = append(adds, mutate.IndexAddendum{Add: testImage(t, c, p), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.os, Architecture: p.arch}}})
	}
	index := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	path := filepath.Join(t.TempDir(), "multi.tar")
	if _, err := writeIndexArchive(path, c, images[0], index); err != nil {
		t.Fatal(err)
	}
	dir := untar(t, path)

	// crane push DIR: one entry in index.json that is an index → push it.
	l, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := l.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || !top.Manifests[0].MediaType.IsIndex() {
		t.Fatalf("index.json: %+v", top.Manifests)
	}
	fromLayout, err := l.ImageIndex(top.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	ref := pushTarget(t, "multinic-operator:v1.2.3")
	if err := remote.WriteIndex(ref, fromLayout); err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := digestOf(t, pulled), digestOf(t, index); got != want {
		t.Fatalf("pushed index %s, want %s", got, want)
	}
	m, err := pulled.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, d := range m.Manifests {
		platforms = append(platforms, d.Platform.String())
	}
	if strings.Join(platforms, ",") != "linux/amd64,linux/arm64" {
		t.Fatalf("platforms %v", platforms)
	}
}

func TestArchivesAreByteForByteReproducible(t *testing.T) {
	c := testConfig(t)
	var sums []string
	for range 2 {
		sum, err := writeImageArchive(filepath.Join(t.TempDir(), "one.tar"), c, images[0], testImage(t, c, c.platforms[0]))
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, sum)
	}
	if sums[0] != sums[1] {
		t.Fatalf("two builds of the same input differ: %v", sums)
	}
}

func TestContainerdName(t *testing.T) {
	for ref, want := range map[string]string{
		"multinic-operator:v1":                      "docker.io/library/multinic-operator:v1",
		"team/multinic-operator:v1":                 "docker.io/team/multinic-operator:v1",
		"registry.example.com/multinic-operator:v1": "registry.example.com/multinic-operator:v1",
		"registry:5000/team/multinic-operator:v1":   "registry:5000/team/multinic-operator:v1",
		"localhost/multinic-operator:v1":            "localhost/multinic-operator:v1",
	} {
		if got := containerdName(ref); got != want {
			t.Errorf("containerdName(%q) = %q, want %q", ref, got, want)
		}
	}
}

func TestNewConfigNamesEveryBadFlag(t *testing.T) {
	_, err := newConfig(t.TempDir(), "dist", "v1/2", "HEAD", "yesterday", "", "Registry.Example.com", "linux/s390x", "nope", 0)
	if err == nil {
		t.Fatal("bad flags accepted")
	}
	for _, want := range []string{"-version", "-revision", "-created", "-repository", "-platforms", "-images", "-j"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}

func TestRootFSForTheDockerfile(t *testing.T) {
	dir := t.TempDir()
	if err := writeRootFS(dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSticky == 0 || st.Mode().Perm() != 0o777 {
		t.Fatalf("/tmp mode %v, want sticky and 0777", st.Mode())
	}
	passwd, err := os.ReadFile(filepath.Join(dir, "etc/passwd"))
	if err != nil || !strings.Contains(string(passwd), "nonroot:x:65532:65532:") {
		t.Fatalf("etc/passwd: %q, %v", passwd, err)
	}
}

// pushTarget is a reference in a fresh in-process registry.
func pushTarget(t *testing.T, repoTag string) name.Reference {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(u.Host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func untar(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
