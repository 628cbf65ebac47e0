package inventory

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	lockChildEnv = "MULTINIC_INVENTORY_LOCK_CHILD"
	lockHoldEnv  = "MULTINIC_INVENTORY_LOCK_HOLD"
	lockRefused  = "refused:"
	lockOpened   = "opened"
)

// TestLockChild opens the inventory of TestOneWriterPerPath in a child
// process, writes a record if that worked, and prints the outcome.
func TestLockChild(t *testing.T) {
	path := childOf(t, lockChildEnv, "TestOneWriterPerPath")
	s, err := Open(path)
	if err != nil {
		fmt.Println(lockRefused, err)
		os.Exit(0)
	}
	if os.Getenv(lockHoldEnv) != "" {
		fmt.Println(crashReady) // holds the lock until killed
		select {}
	}
	if _, err := s.Upsert("prov-child", node("child-node", "vm-child", "fa:16:3e:00:00:99")); err != nil {
		fmt.Fprintln(os.Stderr, "child upsert:", err)
		os.Exit(2)
	}
	fmt.Println(lockOpened)
	os.Exit(0)
}

// runLockChild runs TestLockChild on path and returns what it printed.
func runLockChild(t *testing.T, path string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	defer func() { _ = stdin.Close() }()
	require.NoError(t, cmd.Start())
	require.NoError(t, cmd.Wait(), "child: %s %s", stdout.String(), stderr.String())
	return strings.TrimSpace(stdout.String())
}

// Issue 20.5: two processes on one inventory path lost 300 of 599
// acknowledged records, and one that only opened the path deleted the
// owner's in-flight temporary files. The first to open holds an exclusive
// lock until it closes or exits; a second fails at once, naming the path
// and the holder, and touches nothing.
func TestOneWriterPerPath(t *testing.T) {
	if os.Getenv(lockChildEnv) != "" {
		t.Skip("this is the child")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "inventory.json")
	s, err := Open(path)
	require.NoError(t, err)
	_, err = s.Upsert("prov-a", node("worker-1", "vm-1", "fa:16:3e:00:00:01"))
	require.NoError(t, err)
	// The owner's writes in flight: temporary files of the marker and of a
	// shard, as renameio names them, which the owner is about to rename.
	inflight := []string{
		filepath.Join(dir, ".inventory.json1234567"),
		filepath.Join(s.ShardDir(), "."+shardFileName("prov-a")+"7654321"),
	}
	for _, f := range inflight {
		require.NoError(t, os.WriteFile(f, []byte("{}"), 0o600))
	}
	before := snapshotFiles(t, dir)

	out := runLockChild(t, path)
	require.True(t, strings.HasPrefix(out, lockRefused), "the second process must be refused, got %q", out)
	assert.Contains(t, out, path, "names the path")
	assert.Contains(t, out, fmt.Sprintf("pid %d", os.Getpid()), "names the holder")
	assert.Equal(t, before, snapshotFiles(t, dir), "nothing of the owner's was touched, its temporary files included")

	_, err = s.Upsert("prov-a", node("worker-2", "vm-2", "fa:16:3e:00:00:02"))
	require.NoError(t, err, "the owner goes on writing")

	// In this process too: one Store per path.
	_, err = Open(path)
	var locked *LockedError
	require.ErrorAs(t, err, &locked)
	assert.ErrorIs(t, err, ErrLocked)
	assert.Equal(t, os.Getpid(), locked.PID)
	assert.Contains(t, err.Error(), "this process")

	for _, f := range inflight {
		require.NoError(t, os.Remove(f))
	}
	require.NoError(t, s.Close())
	_, err = s.Upsert("prov-a", node("worker-3", "vm-3", "fa:16:3e:00:00:03"))
	assert.ErrorIs(t, err, ErrClosed, "a closed Store writes nothing: it no longer holds the lock")
	assert.Len(t, s.List(Filter{}), 2, "it still reads")

	assert.Equal(t, lockOpened, runLockChild(t, path), "once closed, the next process opens it")
	reopened, err := Open(path)
	require.NoError(t, err, "and once that one exited, so can we")
	t.Cleanup(func() { assert.NoError(t, reopened.Close()) })
	assert.Len(t, reopened.List(Filter{}), 3, "every record of both, none lost")
}

// A holder that dies (SIGKILL, OOM) leaves the lock file, but not the lock.
func TestLockEndsWithTheHolder(t *testing.T) {
	if os.Getenv(lockChildEnv) != "" {
		t.Skip("this is the child")
	}
	path := filepath.Join(t.TempDir(), "inventory.json")
	t.Setenv(lockHoldEnv, "1") // the child's environment: hold until killed
	runAndKill(t, "TestLockChild", lockChildEnv+"="+path, 0)
	s, err := Open(path)
	require.NoError(t, err, "the killed writer's lock went with it")
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close twice is harmless")
	var zero *Store
	assert.NoError(t, zero.Close(), "a disabled inventory closes")
	mem, err := Open("")
	require.NoError(t, err)
	assert.NoError(t, mem.Close())
}

// snapshotFiles is every file under dir with its content.
func snapshotFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		out[p] = string(data)
		return err
	}))
	return out
}
