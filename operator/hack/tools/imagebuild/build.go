package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

const versionPkg = "github.com/multinic/multinic/internal/version"

func build(c config) error {
	start := time.Now()
	if err := os.MkdirAll(c.out, 0o755); err != nil { //nolint:gosec // G301: dist/ is build output, readable like any
		return err
	}
	work, err := os.MkdirTemp("", "imagebuild-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	entries, err := baseFS()
	if err != nil {
		return err
	}
	base, err := newLayer(entries, c.created)
	if err != nil {
		return fmt.Errorf("base layer: %w", err)
	}
	binaries, err := compileAll(c, work)
	if err != nil {
		return err
	}

	var digests strings.Builder
	sums := map[string]string{} // file name in c.out → SHA-256 hex
	for _, im := range c.images {
		var adds []mutate.IndexAddendum
		for _, p := range c.platforms {
			bin := binaries[binaryKey(im, p)]
			img, err := assemble(c, im, p, base, entries, bin)
			if err != nil {
				return fmt.Errorf("%s %s: %w", im.name, p, err)
			}
			stem := fmt.Sprintf("%s_%s_%s", c.fileStem(im), p.os, p.arch)
			sum, err := writeImageArchive(filepath.Join(c.out, stem+".tar"), c, im, img)
			if err != nil {
				return fmt.Errorf("%s %s: %w", im.name, p, err)
			}
			sums[stem+".tar"] = sum
			digest, err := img.Digest()
			if err != nil {
				return err
			}
			sbom, err := cycloneDX(c, im, p, digest, bin)
			if err != nil {
				return fmt.Errorf("%s %s: SBOM: %w", im.name, p, err)
			}
			if err := writeFileAtomic(filepath.Join(c.out, stem+".cdx.json"), sbom); err != nil {
				return err
			}
			sums[stem+".cdx.json"] = sha256Hex(sbom)
			fmt.Fprintf(&digests, "%s %s %s\n", c.reference(im), p, digest)
			adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.os, Architecture: p.arch}}})
		}
		index := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
		sum, err := writeIndexArchive(filepath.Join(c.out, c.fileStem(im)+".tar"), c, im, index)
		if err != nil {
			return fmt.Errorf("%s index: %w", im.name, err)
		}
		sums[c.fileStem(im)+".tar"] = sum
		digest, err := index.Digest()
		if err != nil {
			return err
		}
		fmt.Fprintf(&digests, "%s index %s\n", c.reference(im), digest)
	}
	if err := writeFileAtomic(filepath.Join(c.out, "digests.txt"), []byte(digests.String())); err != nil {
		return err
	}
	sums["digests.txt"] = sha256Hex([]byte(digests.String()))
	if err := writeFileAtomic(filepath.Join(c.out, "SHA256SUMS"), checksumFile(sums)); err != nil {
		return err
	}
	fmt.Print(digests.String())
	fmt.Fprintf(os.Stderr, "imagebuild: wrote %d images for %d platforms into %s in %s\n", len(c.images), len(c.platforms), c.out, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// checksumFile is SHA256SUMS in sha256sum's format, sorted by name, over
// every file of the release: `sha256sum -c SHA256SUMS` then checks a copy of
// the archives, the SBOMs and digests.txt alike, so none of them can be
// swapped unnoticed on the way to an air-gapped registry.
func checksumFile(sums map[string]string) []byte {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(sums)) {
		fmt.Fprintf(&b, "%s  %s\n", sums[name], name)
	}
	return []byte(b.String())
}

func sha256Hex(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

func binaryKey(im image, p platform) string { return im.name + "-" + p.os + "-" + p.arch }

// compileAll cross-compiles every binary, c.jobs at a time (the Go build
// cache is shared, so the second platform of a package reuses nothing, but
// two links overlap well on two cores).
func compileAll(c config, work string) (map[string]string, error) {
	paths := map[string]string{}
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(c.jobs)
	for _, im := range c.images {
		for _, p := range c.platforms {
			out := filepath.Join(work, binaryKey(im, p))
			paths[binaryKey(im, p)] = out
			g.Go(func() error { return compile(ctx, c, im, p, out) })
		}
	}
	return paths, g.Wait()
}

func compile(ctx context.Context, c config, im image, p platform, out string) error {
	ldflags := strings.Join([]string{
		"-s", "-w", // no symbol tables: smaller; panics still have file:line
		"-X", versionPkg + ".version=" + c.version,
		"-X", versionPkg + ".revision=" + c.revision,
		"-X", versionPkg + ".buildDate=" + c.created.Format(time.RFC3339),
	}, " ")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, im.pkg)
	cmd.Dir = c.src
	// Pin everything that changes the bytes, so every machine with this Go
	// version builds the same binary. The version comes from -ldflags, not
	// from -buildvcs: Go would stamp vcs.modified from untracked files too
	// (a test's scratch file), and one commit must give one digest.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.os, "GOARCH="+p.arch, "GOAMD64=v1", "GOARM64=v8.0", "GOFLAGS=-buildvcs=false")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = os.Stderr, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s: %w\n%s", im.pkg, p, err, stderr.String())
	}
	fmt.Fprintf(os.Stderr, "imagebuild: compiled %s for %s in %s\n", im.name, p, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// newLayer compresses the entries once, with fixed gzip headers.
func newLayer(entries []entry, mtime time.Time) (v1.Layer, error) {
	raw, err := writeTar(entries, mtime)
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	compressed := gz.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// assemble puts the binary on the base. The config carries what `docker
// inspect` and registries show; Created and every history entry are the
// commit time, never the build time.
func assemble(c config, im image, p platform, base v1.Layer, baseEntries []entry, binPath string) (v1.Image, error) {
	bin, err := os.ReadFile(binPath)
	if err != nil {
		return nil, err
	}
	binEntries := []entry{{name: im.name, mode: 0o755, data: bin}}
	binLayer, err := newLayer(binEntries, c.created)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: c.created}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: p.arch,
		OS:           p.os,
		Created:      created,
		Config: v1.Config{
			User:       fmt.Sprintf("%d:%d", nonroot, nonroot),
			Entrypoint: []string{"/" + im.name},
			WorkingDir: "/",
			Labels:     labels(c, im),
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: created, CreatedBy: "imagebuild: base " + describe(baseEntries)}},
		mutate.Addendum{Layer: binLayer, History: v1.History{Created: created, CreatedBy: "imagebuild: go build -trimpath " + im.pkg + " (CGO_ENABLED=0)"}},
	)
}

// labels are the OCI annotation keys the image spec defines; the
// Dockerfile sets the same ones.
func labels(c config, im image) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       im.name,
		"org.opencontainers.image.description": im.description,
		"org.opencontainers.image.version":     c.version,
		"org.opencontainers.image.revision":    c.revision,
		"org.opencontainers.image.source":      c.source,
		"org.opencontainers.image.created":     c.created.Format(time.RFC3339),
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil { //nolint:gosec // G306: image tars and digests are release artifacts
		return err
	}
	return os.Rename(tmp, path)
}
