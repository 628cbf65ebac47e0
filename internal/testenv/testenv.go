// Package testenv starts a real kube-apiserver and etcd (controller-runtime's
// envtest) for the operator's tests, with binaries built from Go modules by
// operator/hack/envtest-assets.sh and cached outside the checkout.
package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

var (
	assetsOnce sync.Once
	assetsDir  string
	assetsErr  error
)

// Assets returns the directory holding kube-apiserver and etcd:
// KUBEBUILDER_ASSETS when set, else whatever the build script prints (it
// builds on first use, which takes minutes on a cold machine).
func Assets() (string, error) {
	assetsOnce.Do(func() {
		if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
			assetsDir = dir
			return
		}
		root, err := RepoRoot()
		if err != nil {
			assetsErr = err
			return
		}
		cmd := exec.Command("bash", filepath.Join(root, "operator", "hack", "envtest-assets.sh"))
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = os.Stderr // build progress stays visible
		if err := cmd.Run(); err != nil {
			assetsErr = fmt.Errorf("build envtest binaries: %w", err)
			return
		}
		assetsDir = strings.TrimSpace(out.String())
	})
	return assetsDir, assetsErr
}

// RepoRoot finds the module root by walking up to the go.mod of this module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(data, []byte("module github.com/multinic/multinic\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root of github.com/multinic/multinic not found above the working directory")
		}
		dir = parent
	}
}

// Start runs an API server with the given CRD directories installed.
func Start(crdDirs ...string) (*envtest.Environment, *rest.Config, error) {
	assets, err := Assets()
	if err != nil {
		return nil, nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     crdDirs,
		ErrorIfCRDPathMissing: true,
		// envtest's 20 s default is too short when the machine is loaded
		// (two cores, parallel test binaries compiling): the API server
		// comes up, only later. A real failure still ends the wait early.
		ControlPlaneStartTimeout: startTimeout(),
		ControlPlaneStopTimeout:  time.Minute,
	}
	cfg, err := env.Start()
	if err != nil {
		// Start may fail after launching the processes (a CRD the API
		// server refuses): stop them rather than leave them running.
		_ = env.Stop()
		return nil, nil, fmt.Errorf("start envtest: %w", err)
	}
	return env, cfg, nil
}

// startTimeout is how long Start waits for etcd and kube-apiserver:
// KUBEBUILDER_CONTROLPLANE_START_TIMEOUT when set (envtest's own variable),
// else three minutes.
func startTimeout() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("KUBEBUILDER_CONTROLPLANE_START_TIMEOUT")); err == nil && d > 0 {
		return d
	}
	return 3 * time.Minute
}

// CRDDir is the generated OpenstackConfig CRD directory.
func CRDDir() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "operator", "config", "crd", "bases"), nil
}

// Tool returns the path of a pinned build tool (controller-gen, helm,
// kustomize), installing it on first use through operator/hack/tool.sh.
func Tool(name string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("bash", filepath.Join(root, "operator", "hack", "tool.sh"), name)
	cmd.Stderr = os.Stderr // a first-time install shows its progress
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// FirstDifference names the first line where got and want differ, or ""
// when they are equal, so a staleness test reports one line, not two files.
func FirstDifference(got, want string) string {
	gotLines, wantLines := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(gotLines), len(wantLines)) {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			return fmt.Sprintf("line %d is %q, generated %q", i+1, g, w)
		}
	}
	return ""
}
