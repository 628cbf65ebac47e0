package hack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/syncbuf"
)

// envtest-assets.sh is tested with its own cache directory, a local
// stand-in for the envtest release index, and fake binaries: the real
// download host is not reachable here, and a real build takes minutes.

func scriptPath(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(name)
	require.NoError(t, err)
	return p
}

// runScript runs envtest-assets.sh with a cache and environment of its own.
func runScript(t *testing.T, cache string, env ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command("bash", scriptPath(t, "envtest-assets.sh"))
	cmd.Env = append(os.Environ(), append([]string{"MULTINIC_CACHE=" + cache, "MULTINIC_ENVTEST="}, env...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return strings.TrimSpace(out.String()), errOut.String(), err
}

// pinnedMinor is the Kubernetes minor the script asks setup-envtest for.
func pinnedMinor(t *testing.T) string {
	t.Helper()
	gomod, err := os.ReadFile("tools/kube-apiserver/go.mod")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^require k8s\.io/kubernetes v(\d+\.\d+)\.\d+`).FindSubmatch(gomod)
	require.NotNil(t, m)
	return string(m[1])
}

// envtestArchive is a release archive as controller-tools publishes it.
func envtestArchive(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for _, name := range []string{"kube-apiserver", "etcd", "kubectl"} {
		body := []byte("#!/bin/sh\necho fake " + name + "\n")
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "controller-tools/envtest/" + name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(body)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return b.Bytes()
}

func TestEnvtestAssetsDownloadsWithSetupEnvtestFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("installs setup-envtest")
	}
	// Reuse the machine's setup-envtest instead of installing it into the
	// test's cache every time.
	out, err := exec.Command("bash", scriptPath(t, "tool.sh"), "setup-envtest").Output()
	require.NoError(t, err)
	tool := strings.TrimSpace(string(out))
	cache := t.TempDir()
	toolDir := filepath.Join(cache, "bin", filepath.Base(filepath.Dir(tool)))
	require.NoError(t, os.MkdirAll(toolDir, 0o755))
	require.NoError(t, os.Symlink(tool, filepath.Join(toolDir, "setup-envtest")))

	release := pinnedMinor(t) + ".1"
	archive := envtestArchive(t)
	sum := sha512.Sum512(archive)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch r.URL.Path {
		case "/index.yaml":
			fmt.Fprintf(w, "releases:\n  v%s:\n    envtest-v%s-%s-%s.tar.gz:\n      hash: %s\n      selfLink: %s/envtest.tar.gz\n",
				release, release, runtime.GOOS, runtime.GOARCH, hex.EncodeToString(sum[:]), "http://"+r.Host)
		case "/envtest.tar.gz":
			_, _ = w.Write(archive)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	dir, stderr, err := runScript(t, cache, "ENVTEST_INDEX="+srv.URL+"/index.yaml")
	require.NoError(t, err, stderr)
	assert.Equal(t, filepath.Join(cache, "envtest", "setup-envtest", "k8s", release+"-"+runtime.GOOS+"-"+runtime.GOARCH), dir)
	assert.Contains(t, stderr, "downloading kube-apiserver and etcd")
	assert.NotContains(t, stderr, "building", "nothing is built when the download works")
	for _, name := range []string{"kube-apiserver", "etcd"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if assert.NoError(t, err, name) {
			assert.NotZero(t, st.Mode()&0o100, "%s is executable", name)
		}
	}

	before := requests.Load()
	again, stderr, err := runScript(t, cache, "ENVTEST_INDEX="+srv.URL+"/index.yaml")
	require.NoError(t, err, stderr)
	assert.Equal(t, dir, again)
	assert.Equal(t, before, requests.Load(), "a second run uses what was downloaded without asking the index")
}

func TestEnvtestAssetsGivesUpOnAnUnreachableHostAtOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + l.Addr().String() + "/index.yaml"
	require.NoError(t, l.Close())

	cache := t.TempDir()
	_, stderr, err := runScript(t, cache, "ENVTEST_INDEX="+closed, "MULTINIC_ENVTEST=download")
	require.Error(t, err)
	assert.Contains(t, stderr, "cannot be reached")
	assert.NoDirExists(t, filepath.Join(cache, "bin"), "setup-envtest is installed only when the host answers")
}

func TestEnvtestAssetsSaysWhenItWaitsForAnotherProcess(t *testing.T) {
	cache := t.TempDir()
	// What a finished build leaves, so the script only has to print it.
	kube := regexp.MustCompile(`(?m)^require k8s\.io/kubernetes (\S+)`).FindStringSubmatch(readFile(t, "tools/kube-apiserver/go.mod"))[1]
	etcd := regexp.MustCompile(`(?m)^require go\.etcd\.io/etcd/server/v3 (\S+)`).FindStringSubmatch(readFile(t, "tools/etcd/go.mod"))[1]
	built := filepath.Join(cache, "envtest", "kube-"+kube+"-etcd-"+etcd)
	require.NoError(t, os.MkdirAll(built, 0o755))
	for _, name := range []string{"kube-apiserver", "etcd"} {
		require.NoError(t, os.WriteFile(filepath.Join(built, name), []byte("#!/bin/sh\n"), 0o755))
	}
	lockFile, err := os.Create(filepath.Join(cache, "envtest", ".lock"))
	require.NoError(t, err)
	defer lockFile.Close()
	require.NoError(t, syscall.Flock(int(lockFile.Fd()), syscall.LOCK_EX))

	cmd := exec.Command("bash", scriptPath(t, "envtest-assets.sh"))
	cmd.Env = append(os.Environ(), "MULTINIC_CACHE="+cache, "MULTINIC_ENVTEST=")
	var out bytes.Buffer
	stderr := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = &out, stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "waiting for another process") },
		time.Minute, 50*time.Millisecond, "the waiting script says why it waits")
	select {
	case err := <-done:
		t.Fatalf("the script did not wait for the lock: %v\n%s", err, stderr.String())
	default:
	}
	require.NoError(t, syscall.Flock(int(lockFile.Fd()), syscall.LOCK_UN))
	select {
	case err := <-done:
		require.NoError(t, err, stderr.String())
	case <-time.After(time.Minute):
		t.Fatal("the script did not go on after the lock was released")
	}
	assert.Equal(t, built, strings.TrimSpace(out.String()))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
