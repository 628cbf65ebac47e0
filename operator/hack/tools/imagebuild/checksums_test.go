package main

import (
	"bufio"
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestSHA256SUMSCoversEveryReleaseFile builds a tiny program as an image and
// checks that SHA256SUMS names every other file build wrote (archives,
// SBOM, digests.txt) with its hash, in the format `sha256sum -c` reads.
func TestSHA256SUMSCoversEveryReleaseFile(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("builds for the host platform, and %s is not one imagebuild makes", runtime.GOARCH)
	}
	src := t.TempDir()
	writeTestFile(t, filepath.Join(src, "go.mod"), "module example.com/hello\n\ngo 1.22\n")
	writeTestFile(t, filepath.Join(src, "cmd", "hello", "main.go"), "package main\n\nfunc main() { println(\"hello\") }\n")
	c := testConfig(t)
	c.src, c.out, c.jobs = src, t.TempDir(), 1
	c.platforms = []platform{{"linux", runtime.GOARCH}}
	c.images = []image{{name: "hello", pkg: "./cmd/hello", description: "a test image"}}
	if err := build(c); err != nil {
		t.Fatal(err)
	}

	entries, err := os.ReadDir(c.out)
	if err != nil {
		t.Fatal(err)
	}
	var written []string
	for _, e := range entries {
		if e.Name() != "SHA256SUMS" {
			written = append(written, e.Name())
		}
	}
	stem := "hello_v1.2.3_linux_" + runtime.GOARCH
	for _, want := range []string{"digests.txt", stem + ".cdx.json", stem + ".tar", "hello_v1.2.3.tar"} {
		if !slices.Contains(written, want) {
			t.Fatalf("build did not write %s: %v", want, written)
		}
	}
	sums := readSums(t, filepath.Join(c.out, "SHA256SUMS"))
	if listed := slices.Sorted(maps.Keys(sums)); !slices.Equal(listed, written) { // ReadDir sorts by name too
		t.Fatalf("SHA256SUMS lists %v, the release has %v", listed, written)
	}
	for name, sum := range sums {
		data, err := os.ReadFile(filepath.Join(c.out, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256Hex(data); got != sum {
			t.Errorf("%s: SHA256SUMS says %s, the file hashes to %s", name, sum, got)
		}
	}

	sha256sum, err := exec.LookPath("sha256sum")
	if err != nil {
		return // the Go check above is the substance; this only confirms the format
	}
	check := func() error {
		cmd := exec.Command(sha256sum, "--check", "--strict", "SHA256SUMS")
		cmd.Dir = c.out
		return cmd.Run()
	}
	if err := check(); err != nil {
		t.Fatalf("sha256sum --check rejects the untouched release: %v", err)
	}
	sbom := filepath.Join(c.out, stem+".cdx.json")
	data, err := os.ReadFile(sbom)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sbom, bytes.Replace(data, []byte(`"hello"`), []byte(`"h3llo"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if check() == nil {
		t.Fatal("sha256sum --check accepted an altered SBOM")
	}
}

// readSums parses sha256sum's "HEX  NAME" lines.
func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 || name == "" {
			t.Fatalf("%s: line %q is not sha256sum's HEX  NAME", path, sc.Text())
		}
		if _, dup := sums[name]; dup {
			t.Fatalf("%s lists %s twice", path, name)
		}
		sums[name] = sum
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sums
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
