// Command imagebuild builds the multinic container images from Go alone: no
// daemon, and nothing pulled from a registry. The base filesystem (CA roots,
// an /etc/passwd entry for the nonroot user, /tmp) is made here, the binaries
// are cross-compiled static, and every timestamp is the commit time, so one
// commit gives one digest.
//
// For each image it writes into -out:
//
//	NAME_TAG.tar                  OCI layout: a multi-platform index (crane push, nerdctl/ctr --all-platforms)
//	NAME_TAG_linux_ARCH.tar       one platform: OCI layout plus docker's manifest.json (docker/nerdctl load, ctr import)
//	NAME_TAG_linux_ARCH.cdx.json  CycloneDX SBOM of that platform's binary
//
// and digests.txt (image digests) and SHA256SUMS (every file above and
// digests.txt, for `sha256sum -c` on a copy).
//
//	go -C operator/hack/tools/imagebuild run . -src "$PWD" -out "$PWD/dist" -version v0.1.0 -revision "$(git rev-parse HEAD)" -created "$(git log -1 --format=%ct)"
//
// With -rootfs DIR it only writes the base filesystem into DIR, for the
// Dockerfile, so both ways of building share one base.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// image is one binary of the repository shipped as an image.
type image struct {
	name        string // image and binary name; the entrypoint is /name
	pkg         string // Go package, relative to the repository root
	description string
}

var images = []image{
	{"multinic-operator", "./operator/cmd/multinic-operator", "Kubernetes operator that syncs the extra NICs of OpenStack VMs to the Viola API"},
	{"viola-test-api", "./operator/cmd/viola-test-api", "Stand-in for the Viola API: applies node configs as MultiNicNodeConfig objects"},
}

type config struct {
	src, out   string
	version    string
	revision   string
	created    time.Time
	source     string
	repository string // registry/prefix the images are named under; empty for bare names
	platforms  []platform
	images     []image
	jobs       int
}

type platform struct{ os, arch string }

func (p platform) String() string { return p.os + "/" + p.arch }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("imagebuild", flag.ContinueOnError)
	src := fs.String("src", "", "repository root (default: found from the working directory)")
	out := fs.String("out", "dist", "output directory")
	version := fs.String("version", "", "version label and image tag, e.g. v0.1.0 (required)")
	revision := fs.String("revision", "", "full commit hash (required)")
	created := fs.String("created", os.Getenv("SOURCE_DATE_EPOCH"), "commit time in Unix seconds; every timestamp in the images (default $SOURCE_DATE_EPOCH)")
	source := fs.String("source", "https://github.com/multinic/multinic", "org.opencontainers.image.source label")
	repository := fs.String("repository", "", "registry and path the images are named under in the tars, e.g. registry.example.com/platform")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "comma-separated platforms")
	only := fs.String("images", "", "comma-separated subset of "+imageNames()+" (default all)")
	jobs := fs.Int("j", 2, "binaries compiled at once")
	rootfs := fs.String("rootfs", "", "only write the base filesystem into this directory (for the Dockerfile)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rootfs != "" {
		return writeRootFS(*rootfs)
	}
	cfg, err := newConfig(*src, *out, *version, *revision, *created, *source, *repository, *platforms, *only, *jobs)
	if err != nil {
		return err
	}
	return build(cfg)
}

// A docker tag: what registries accept after the colon.
var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

func newConfig(src, out, version, revision, created, source, repository, platforms, only string, jobs int) (config, error) {
	var errs []error
	if !tagPattern.MatchString(version) {
		errs = append(errs, fmt.Errorf("-version %q is not a valid image tag (letters, digits, _ . -; at most 128)", version))
	}
	if !regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`).MatchString(revision) {
		errs = append(errs, fmt.Errorf("-revision %q is not a full commit hash (git rev-parse HEAD)", revision))
	}
	secs, err := strconv.ParseInt(strings.TrimSpace(created), 10, 64)
	if err != nil || secs <= 0 {
		errs = append(errs, fmt.Errorf("-created %q (or SOURCE_DATE_EPOCH) is not a Unix time in seconds (git log -1 --format=%%ct)", created))
	}
	repository = strings.TrimSuffix(repository, "/")
	if repository != "" && !regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$`).MatchString(repository) {
		errs = append(errs, fmt.Errorf("-repository %q is not a registry host and path like registry.example.com:5000/team", repository))
	}
	var plats []platform
	for p := range strings.SplitSeq(platforms, ",") {
		goos, arch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || goos != "linux" || (arch != "amd64" && arch != "arm64") {
			errs = append(errs, fmt.Errorf("-platforms: %q is not one of linux/amd64, linux/arm64", p))
			continue
		}
		if !slices.Contains(plats, platform{goos, arch}) {
			plats = append(plats, platform{goos, arch})
		}
	}
	chosen := images
	if only != "" {
		chosen = nil
		for n := range strings.SplitSeq(only, ",") {
			i := slices.IndexFunc(images, func(im image) bool { return im.name == strings.TrimSpace(n) })
			if i < 0 {
				errs = append(errs, fmt.Errorf("-images: %q is not one of %s", n, imageNames()))
				continue
			}
			chosen = append(chosen, images[i])
		}
	}
	if jobs < 1 {
		errs = append(errs, fmt.Errorf("-j %d: must be at least 1", jobs))
	}
	if src == "" {
		src, err = findRepositoryRoot()
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return config{}, err
	}
	if out, err = filepath.Abs(out); err != nil {
		return config{}, err
	}
	return config{
		src: src, out: out, version: version, revision: revision, created: time.Unix(secs, 0).UTC(),
		source: source, repository: repository, platforms: plats, images: chosen, jobs: jobs,
	}, nil
}

func imageNames() string {
	var names []string
	for _, im := range images {
		names = append(names, im.name)
	}
	return strings.Join(names, ", ")
}

// findRepositoryRoot walks up to the go.mod of the multinic module, so
// `go -C operator/hack/tools/imagebuild run .` works without -src.
func findRepositoryRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && regexp.MustCompile(`(?m)^module github\.com/multinic/multinic\s*$`).Match(b) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no repository root (go.mod of github.com/multinic/multinic) above the working directory; pass -src")
		}
		dir = parent
	}
}

// reference is the name an image is loaded under: repository/name:tag.
func (c config) reference(im image) string {
	if c.repository == "" {
		return im.name + ":" + c.version
	}
	return c.repository + "/" + im.name + ":" + c.version
}

// fileStem is the start of every file of an image in -out.
func (c config) fileStem(im image) string { return im.name + "_" + c.version }
