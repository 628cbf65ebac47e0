//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/syncbuf"
	"github.com/multinic/multinic/internal/testenv"
)

// TestMakeDemoCtrlC runs `make demo` as a person does, on a terminal of its
// own (a pseudo-terminal whose session make leads), waits until it serves,
// and types Ctrl-C: the terminal sends SIGINT to its foreground process
// group. make must exit 0 without complaint, and nothing the demo started
// (control planes included) may outlive it.
func TestMakeDemoCtrlC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the demo and starts two control planes")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	master, tty, err := openPTY()
	require.NoError(t, err)
	defer master.Close()

	cmd := exec.Command("make", "--no-print-directory", "demo")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "DEMO_INVENTORY_ADDR=127.0.0.1:0")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	require.NoError(t, cmd.Start())
	tty.Close()
	session := cmd.Process.Pid
	t.Cleanup(func() { killSession(session) }) // only if the test failed half-way

	out := &syncbuf.Buffer{}
	go func() { _, _ = copyUntilEOF(out, master) }()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	deadline := time.After(10 * time.Minute) // a cold build of the demo, two API servers
	for !strings.Contains(out.String(), "serving the inventory at") {
		select {
		case err := <-exited:
			require.FailNow(t, "make demo stopped before serving", "%v\n%s", err, out.String())
		case <-deadline:
			require.FailNow(t, "make demo never served", out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	running := sessionProcesses(session)
	for _, want := range []string{"make", "demo", "etcd", "kube-apiserver"} {
		assert.Contains(t, running, want, "the check below would see it survive")
	}

	_, err = master.Write([]byte{0x03}) // Ctrl-C
	require.NoError(t, err)
	select {
	case err := <-exited:
		require.NoError(t, err, "make demo exits 0 after Ctrl-C\n%s", out.String())
	case <-time.After(3 * time.Minute):
		require.FailNow(t, "make demo did not stop after Ctrl-C", out.String())
	}
	assert.NotContains(t, out.String(), "Interrupt", "make reports no interrupted recipe")
	assert.NotContains(t, out.String(), "demo:", "the demo reports no error")

	stopDeadline := time.Now().Add(time.Minute)
	for len(sessionProcesses(session)) > 0 && time.Now().Before(stopDeadline) {
		time.Sleep(200 * time.Millisecond)
	}
	assert.Empty(t, sessionProcesses(session), "processes of make demo that outlived it")
}

// openPTY opens a pseudo-terminal pair, as openpty(3) does.
func openPTY() (master, tty *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	var unlock int32
	var n uint32
	if err := ioctl(master, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlockpt: %w", err)
	}
	if err := ioctl(master, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("ptsname: %w", err)
	}
	tty, err = os.OpenFile(filepath.Join("/dev/pts", strconv.Itoa(int(n))), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, tty, nil
}

func ioctl(f *os.File, request uintptr, arg unsafe.Pointer) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno syscall.Errno
	if err := conn.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, request, uintptr(arg))
	}); err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}

// copyUntilEOF copies the terminal's output; reading the master side ends
// with EIO once every process has closed the terminal.
func copyUntilEOF(out *syncbuf.Buffer, master *os.File) (int64, error) {
	buf := make([]byte, 4096)
	var total int64
	for {
		n, err := master.Read(buf)
		_, _ = out.Write(buf[:n])
		total += int64(n)
		if err != nil {
			if errors.Is(err, syscall.EIO) {
				return total, nil
			}
			return total, err
		}
	}
}

// sessionProcesses names (comm) the live processes of a session, from
// /proc: what make started, and what that started, however re-parented.
func sessionProcesses(sid int) []string {
	var names []string
	for _, p := range processesOf(sid) {
		names = append(names, p.comm)
	}
	return names
}

type process struct {
	pid  int
	comm string
}

func processesOf(sid int) []process {
	entries, _ := os.ReadDir("/proc")
	var found []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session …; comm may hold spaces.
		open, end := strings.IndexByte(string(stat), '('), strings.LastIndexByte(string(stat), ')')
		if open < 0 || end < open {
			continue
		}
		fields := strings.Fields(string(stat[end+1:]))
		if len(fields) < 4 || fields[0] == "Z" {
			continue
		}
		if s, err := strconv.Atoi(fields[3]); err == nil && s == sid {
			found = append(found, process{pid: pid, comm: string(stat[open+1 : end])})
		}
	}
	return found
}

// killSession ends whatever is left of the session after a failure.
func killSession(sid int) {
	for _, p := range processesOf(sid) {
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
}
