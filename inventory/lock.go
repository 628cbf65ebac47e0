package inventory

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// One writer per inventory path. Two processes writing one inventory lose
// each other's records (each holds its own copy and writes its shards
// whole), and a second process that only opens it would delete the first
// one's temporary files as a crash's leftovers. Open therefore takes an
// exclusive lock on a file beside the marker, "<path>.lock", before it
// reads or touches anything, and holds it until Close or the process ends
// (the kernel releases it then, however the process died). The lock file
// names its holder for whoever is refused; it is never removed, since
// removing a lock file lets two processes lock two different files.

// ErrLocked marks an Open refused because another Store, in this process
// or another, holds the inventory; the error is a *LockedError.
var ErrLocked = errors.New("inventory is in use")

// ErrClosed is what a write to a closed Store fails with: it no longer
// holds the lock, so another process may be writing.
var ErrClosed = errors.New("inventory store is closed")

// LockedError says who holds the inventory at Path.
type LockedError struct {
	Path string
	// PID and Host name the holder, as its lock file says; PID is 0 when
	// the holder has not written it yet (it is taking the lock just now).
	PID  int
	Host string
}

func (e *LockedError) Error() string {
	holder := "another process"
	switch {
	case e.PID == os.Getpid() && e.Host == hostname():
		holder = fmt.Sprintf("this process (pid %d): close the other Store of this path first", e.PID)
	case e.PID != 0 && e.Host != "":
		holder = fmt.Sprintf("pid %d on host %s", e.PID, e.Host)
	case e.PID != 0:
		holder = fmt.Sprintf("pid %d", e.PID)
	}
	return fmt.Sprintf("inventory %s is in use by %s (lock file %s); only one operator may write an inventory path", e.Path, holder, lockPath(e.Path))
}

// Is makes errors.Is(err, ErrLocked) true for a LockedError.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

func lockPath(path string) string { return path + ".lock" }

// lockFile is the lock Open holds.
type lockFile struct{ f *os.File }

// lock takes the exclusive lock of path's inventory, or reports its holder.
func lock(path string) (*lockFile, error) {
	f, err := os.OpenFile(lockPath(path), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open inventory lock file: %w", err)
	}
	held, err := tryLock(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock inventory %s: %w", path, err)
	}
	if !held {
		locked := &LockedError{Path: path}
		locked.PID, locked.Host = readHolder(f)
		_ = f.Close()
		return nil, locked
	}
	// Whoever is refused reads who holds it. Rewritten in place: the
	// refused only read it, and a short write of a few bytes is atomic
	// enough for a hint.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf("%d %s\n", os.Getpid(), hostname())), 0)
	}
	return &lockFile{f: f}, nil
}

// unlock releases the lock; closing the file does.
func (l *lockFile) unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// readHolder parses "<pid> <host>" from the lock file.
func readHolder(f *os.File) (int, string) {
	buf := make([]byte, 512)
	n, _ := f.ReadAt(buf, 0)
	fields := strings.Fields(string(buf[:n]))
	if len(fields) == 0 {
		return 0, ""
	}
	pid, err := strconv.Atoi(fields[0])
	if err != nil || pid <= 0 {
		return 0, ""
	}
	host := ""
	if len(fields) > 1 {
		host = fields[1]
	}
	return pid, host
}

func hostname() string {
	h, _ := os.Hostname()
	return strings.Join(strings.Fields(h), "")
}
