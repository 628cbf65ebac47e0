package main

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// nonroot is the user the images run as: distroless's "nonroot", which Pod
// security contexts (runAsNonRoot) and the chart expect.
const nonroot = 65532

// certsPath is where Go (and most other TLS stacks) look first on Linux.
const certsPath = "etc/ssl/certs/ca-certificates.crt"

// entry is one file or directory of an image layer.
type entry struct {
	name string // relative, no leading slash
	mode int64  // permission bits, plus sticky for /tmp
	uid  int
	dir  bool
	data []byte
}

// baseFS is what a static Go binary needs around it: names for the users
// (so `id`, logs and kubectl debug show "nonroot"), CA roots for TLS to
// Contrabass, Keystone and Viola, a writable /tmp and a home.
//
// The CA roots come from golang.org/x/crypto/x509roots/fallback (Mozilla's
// list as the Go team ships it), written as a PEM file rather than embedded
// in the binary: a file at the standard path can be inspected, and a
// platform team can add its private CA with SSL_CERT_DIR without losing the
// public roots (an embedded fallback pool is dropped as soon as any system
// root is found).
func baseFS() ([]entry, error) {
	certs, err := caBundle()
	if err != nil {
		return nil, err
	}
	return []entry{
		{name: "etc", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/ssl", mode: 0o755, dir: true},
		{name: "etc/ssl/certs", mode: 0o755, dir: true},
		{name: certsPath, mode: 0o644, data: certs},
		{name: "home", mode: 0o755, dir: true},
		{name: "home/nonroot", mode: 0o700, uid: nonroot, dir: true},
		{name: "root", mode: 0o700, dir: true},
		{name: "tmp", mode: 0o1777, dir: true},
	}, nil
}

// caBundle is the PEM file of the roots. Roots that carry a constraint
// (a distrust-after date) are left out: a PEM file cannot express the
// constraint, and trusting them without it would trust more than Mozilla does.
func caBundle() ([]byte, error) {
	var b bytes.Buffer
	n := 0
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		if err := pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate}); err != nil {
			return nil, err
		}
		n++
	}
	if n < 50 {
		return nil, fmt.Errorf("CA bundle: only %d unconstrained roots in golang.org/x/crypto/x509roots/fallback", n)
	}
	return b.Bytes(), nil
}

// writeTar writes the entries as a layer. Every header is fixed (times,
// owners by number only, USTAR), so the bytes depend on the content alone.
func writeTar(entries []entry, mtime time.Time) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: mtime, Format: tar.FormatUSTAR}
		if e.dir {
			h.Typeflag, h.Name = tar.TypeDir, e.name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeRootFS puts the base filesystem into dir for the Dockerfile's
// COPY. Ownership is the Dockerfile's business (COPY --chown), since the
// build stage may not run as root.
func writeRootFS(dir string) error {
	entries, err := baseFS()
	if err != nil {
		return err
	}
	for _, e := range entries {
		path := filepath.Join(dir, filepath.FromSlash(e.name))
		// The image's own files: world-readable as in any base image.
		if e.dir {
			err = os.MkdirAll(path, 0o755) //nolint:gosec // G301: see above
		} else {
			err = os.WriteFile(path, e.data, 0o644) //nolint:gosec // G306: see above
		}
		if err != nil {
			return err
		}
		// MkdirAll and WriteFile apply the umask; the sticky bit needs Chmod.
		if err := os.Chmod(path, os.FileMode(e.mode&0o777)|stickyBit(e.mode)); err != nil {
			return err
		}
	}
	return nil
}

func stickyBit(mode int64) os.FileMode {
	if mode&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

// describe lists a layer's files for the image history.
func describe(entries []entry) string {
	var names []string
	for _, e := range entries {
		if !e.dir {
			names = append(names, "/"+e.name)
		}
	}
	return strings.Join(names, " ")
}
