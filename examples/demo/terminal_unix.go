//go:build linux || darwin

package main

import (
	"os"
	"os/signal"
	"syscall"
	"unsafe"
)

// takeTerminal makes the demo the terminal's foreground process group, so
// that Ctrl-C reaches the demo alone and returns the terminal on the way
// out. Ctrl-C signals the whole foreground group: under `make demo` that
// includes make, which then exits 130 after its recipe ends however
// cleanly the demo stopped (GNU make re-raises SIGINT on itself), and under
// `go run` the go command, which exits 1 for the same reason. Alone in the
// foreground, the demo stops, make and go run see it exit 0 and do too.
//
// It does nothing unless stdin is a terminal whose foreground group is the
// demo's (not in CI, not when started in the background). The control
// planes already run in process groups of their own (envtest's Setpgid),
// and the demo stops them itself.
func takeTerminal() (release func()) {
	const tty = 0
	own := syscall.Getpgrp()
	if pgrp, err := foregroundGroup(tty); err != nil || pgrp != own {
		return func() {}
	}
	// tcsetpgrp from a background group raises SIGTTOU; and Ctrl-Z would
	// stop the demo alone, leaving make waiting and the terminal to nobody.
	signal.Ignore(syscall.SIGTTOU, syscall.SIGTSTP)
	if syscall.Setpgid(0, 0) != nil {
		return func() {}
	}
	if setForegroundGroup(tty, syscall.Getpid()) != nil {
		_ = syscall.Setpgid(0, own)
		return func() {}
	}
	return func() { _ = setForegroundGroup(tty, own) }
}

func foregroundGroup(fd int) (int, error) {
	var pgrp int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TIOCGPGRP, uintptr(unsafe.Pointer(&pgrp))); errno != 0 {
		return 0, errno
	}
	return int(pgrp), nil
}

func setForegroundGroup(fd, pgrp int) error {
	p := int32(pgrp)
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TIOCSPGRP, uintptr(unsafe.Pointer(&p))); errno != 0 {
		return errno
	}
	return nil
}

// stopSignals end the demo cleanly: Ctrl-C, kill, and the terminal closing
// (SIGHUP goes to the foreground group, which is then the demo's).
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}
