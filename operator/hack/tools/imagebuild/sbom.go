package main

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The SBOM is CycloneDX 1.5 JSON, written from what the Go toolchain
// recorded in the binary (debug/buildinfo, the data `go version -m` shows):
// exactly the modules linked in, at the versions and go.sum hashes used. The
// base layer holds no packages, only the CA file, named as a component too.

type cdxBOM struct {
	BOMFormat    string          `json:"bomFormat"`
	SpecVersion  string          `json:"specVersion"`
	SerialNumber string          `json:"serialNumber"`
	Version      int             `json:"version"`
	Metadata     cdxMetadata     `json:"metadata"`
	Components   []cdxComponent  `json:"components"`
	Dependencies []cdxDependency `json:"dependencies"`
}

type cdxMetadata struct {
	Timestamp string       `json:"timestamp"`
	Tools     cdxTools     `json:"tools"`
	Component cdxComponent `json:"component"`
}

type cdxTools struct {
	Components []cdxComponent `json:"components"`
}

type cdxComponent struct {
	BOMRef     string        `json:"bom-ref,omitempty"`
	Type       string        `json:"type"`
	Name       string        `json:"name"`
	Version    string        `json:"version,omitempty"`
	PURL       string        `json:"purl,omitempty"`
	Hashes     []cdxHash     `json:"hashes,omitempty"`
	Properties []cdxProperty `json:"properties,omitempty"`
}

type cdxHash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cdxDependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn,omitempty"`
}

func cycloneDX(c config, im image, p platform, digest v1.Hash, binPath string) ([]byte, error) {
	bi, err := buildinfo.ReadFile(binPath)
	if err != nil {
		return nil, err
	}
	containerRef := fmt.Sprintf("pkg:oci/%s@%s?arch=%s", im.name, purlEscape(digest.String()), p.arch)
	if c.repository != "" {
		containerRef += "&repository_url=" + url.QueryEscape(c.repository+"/"+im.name)
	}
	mainRef := goPURL(bi.Main.Path, c.version)
	var props []cdxProperty
	for _, s := range bi.Settings {
		props = append(props, cdxProperty{"go:build:" + s.Key, s.Value})
	}
	bom := cdxBOM{
		BOMFormat:   "CycloneDX",
		SpecVersion: "1.5",
		// A stable serial: the same image always has the same SBOM.
		SerialNumber: "urn:uuid:" + uuidFrom(digest.String()),
		Version:      1,
		Metadata: cdxMetadata{
			Timestamp: c.created.Format(time.RFC3339),
			Tools:     cdxTools{Components: []cdxComponent{{Type: "application", Name: "multinic imagebuild (operator/hack/tools/imagebuild)"}}},
			Component: cdxComponent{BOMRef: containerRef, Type: "container", Name: im.name, Version: c.version, PURL: containerRef},
		},
		Components: []cdxComponent{
			{BOMRef: mainRef, Type: "application", Name: bi.Main.Path, Version: c.version, PURL: mainRef, Properties: append([]cdxProperty{
				{"go:package", bi.Path}, {"go:revision", c.revision},
			}, props...)},
			{BOMRef: goPURL("std", bi.GoVersion), Type: "library", Name: "std", Version: bi.GoVersion, PURL: goPURL("std", bi.GoVersion)},
			{BOMRef: "file:/" + certsPath, Type: "data", Name: "/" + certsPath, Properties: []cdxProperty{{"source", "golang.org/x/crypto/x509roots/fallback (Mozilla root store)"}}},
		},
	}
	deps := cdxDependency{Ref: mainRef, DependsOn: []string{goPURL("std", bi.GoVersion)}}
	for _, d := range bi.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		ref := goPURL(m.Path, m.Version)
		comp := cdxComponent{BOMRef: ref, Type: "library", Name: m.Path, Version: m.Version, PURL: ref}
		if h, ok := goSumHash(m.Sum); ok {
			comp.Hashes = []cdxHash{{"SHA-256", h}}
		}
		if d.Replace != nil {
			comp.Properties = []cdxProperty{{"go:replaces", d.Path + "@" + d.Version}}
		}
		bom.Components = append(bom.Components, comp)
		deps.DependsOn = append(deps.DependsOn, ref)
	}
	bom.Dependencies = []cdxDependency{{Ref: containerRef, DependsOn: []string{mainRef, "file:/" + certsPath}}, deps}
	out, err := json.MarshalIndent(bom, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// goPURL is the package URL of a Go module (purl-spec's golang type).
func goPURL(path, version string) string {
	return "pkg:golang/" + path + "@" + purlEscape(version)
}

// purlEscape percent-encodes a purl version; the spec wants ':' encoded too.
func purlEscape(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), ":", "%3A")
}

// goSumHash turns a go.sum "h1:" hash (base64 SHA-256 of the module's file
// list) into hex, as other Go SBOM tools report it.
func goSumHash(sum string) (string, bool) {
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != sha256.Size {
		return "", false
	}
	return hex.EncodeToString(raw), true
}

// uuidFrom derives a version-5-shaped UUID from a name.
func uuidFrom(name string) string {
	h := sha256.Sum256([]byte(name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}
