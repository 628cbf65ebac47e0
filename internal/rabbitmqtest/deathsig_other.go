//go:build !linux

package rabbitmqtest

import "os/exec"

// Elsewhere a killed test binary may leave its broker running; Close
// still stops it on every normal exit.
func setDeathSignal(*exec.Cmd) {}
