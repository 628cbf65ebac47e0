package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// An archive is an OCI image layout in a tar: oci-layout, index.json and
// blobs/sha256/*. containerd (ctr import, nerdctl load, docker with the
// containerd store) and docker load since 25.0 read it; a docker-style
// manifest.json beside it, pointing at the same blobs, serves older docker
// load and `crane push FILE`. That file can name one image per tag only, so
// only the single-platform archives carry it.

type blob struct {
	digest v1.Hash
	open   func() (io.ReadCloser, error)
}

func bytesBlob(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// imageBlobs are an image's manifest, config and layers.
func imageBlobs(img v1.Image) ([]blob, error) {
	manifest, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	configDigest, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	blobs := []blob{{digest, bytesBlob(manifest)}, {configDigest, bytesBlob(config)}}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		blobs = append(blobs, blob{d, l.Compressed})
	}
	return blobs, nil
}

// containerdName is the fully qualified name containerd stores an image
// under (docker.io/library/… for bare names), as docker save writes it.
func containerdName(ref string) string {
	first, _, hasSlash := strings.Cut(ref, "/")
	if hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return ref
	}
	if !hasSlash {
		return "docker.io/library/" + ref
	}
	return "docker.io/" + ref
}

// topDescriptor is the entry of index.json: the image or index, named so
// that every loader tags it.
func topDescriptor(c config, im image, mediaType types.MediaType, digest v1.Hash, size int64) v1.Descriptor {
	return v1.Descriptor{
		MediaType: mediaType,
		Digest:    digest,
		Size:      size,
		Annotations: map[string]string{
			"io.containerd.image.name":          containerdName(c.reference(im)),
			"org.opencontainers.image.ref.name": c.version,
		},
	}
}

func writeImageArchive(path string, c config, im image, img v1.Image) (string, error) {
	blobs, err := imageBlobs(img)
	if err != nil {
		return "", err
	}
	digest, err := img.Digest()
	if err != nil {
		return "", err
	}
	size, err := img.Size()
	if err != nil {
		return "", err
	}
	m, err := img.Manifest()
	if err != nil {
		return "", err
	}
	docker := struct {
		Config   string
		RepoTags []string
		Layers   []string
	}{Config: blobPath(m.Config.Digest), RepoTags: []string{c.reference(im)}}
	for _, l := range m.Layers {
		docker.Layers = append(docker.Layers, blobPath(l.Digest))
	}
	dockerManifest, err := json.Marshal([]any{docker})
	if err != nil {
		return "", err
	}
	return writeArchive(path, c.created, blobs, topDescriptor(c, im, types.OCIManifestSchema1, digest, size), dockerManifest)
}

func writeIndexArchive(path string, c config, im image, index v1.ImageIndex) (string, error) {
	raw, err := index.RawManifest()
	if err != nil {
		return "", err
	}
	digest, err := index.Digest()
	if err != nil {
		return "", err
	}
	blobs := []blob{{digest, bytesBlob(raw)}}
	m, err := index.IndexManifest()
	if err != nil {
		return "", err
	}
	for _, d := range m.Manifests {
		img, err := index.Image(d.Digest)
		if err != nil {
			return "", err
		}
		b, err := imageBlobs(img)
		if err != nil {
			return "", err
		}
		blobs = append(blobs, b...)
	}
	return writeArchive(path, c.created, blobs, topDescriptor(c, im, types.OCIImageIndex, digest, int64(len(raw))), nil)
}

func blobPath(d v1.Hash) string { return "blobs/" + d.Algorithm + "/" + d.Hex }

// writeArchive writes the tar in a fixed order with fixed headers and
// returns its SHA-256, so identical inputs give identical files.
func writeArchive(path string, mtime time.Time, blobs []blob, top v1.Descriptor, dockerManifest []byte) (sum string, err error) {
	index, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{top}})
	if err != nil {
		return "", err
	}
	slices.SortFunc(blobs, func(a, b blob) int { return strings.Compare(a.digest.String(), b.digest.String()) })
	blobs = slices.CompactFunc(blobs, func(a, b blob) bool { return a.digest == b.digest })

	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			_ = os.Remove(tmp) // best effort: the error being returned is the one that matters
		}
	}()
	hash := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(f, hash))
	header := func(name string, size int64, dir bool) error {
		h := &tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if dir {
			h.Mode, h.Typeflag = 0o755, tar.TypeDir
		}
		return tw.WriteHeader(h)
	}
	file := func(name string, data []byte) error {
		if err := header(name, int64(len(data)), false); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return "", err
	}
	if err := header("blobs/", 0, true); err != nil {
		return "", err
	}
	if err := header("blobs/sha256/", 0, true); err != nil {
		return "", err
	}
	for _, b := range blobs {
		if err := writeBlob(tw, header, b); err != nil {
			return "", fmt.Errorf("blob %s: %w", b.digest, err)
		}
	}
	if err := file("index.json", index); err != nil {
		return "", err
	}
	if dockerManifest != nil {
		if err := file("manifest.json", dockerManifest); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	return hex.EncodeToString(hash.Sum(nil)), nil
}

// writeBlob copies a blob, checking it against its digest.
func writeBlob(tw *tar.Writer, header func(string, int64, bool) error, b blob) error {
	rc, err := b.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != b.digest.Hex {
		return fmt.Errorf("content does not match its digest")
	}
	if err := header(blobPath(b.digest), int64(len(data)), false); err != nil {
		return err
	}
	_, err = tw.Write(data)
	return err
}
