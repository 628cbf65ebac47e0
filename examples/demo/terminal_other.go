//go:build !(linux || darwin)

package main

import "os"

// takeTerminal is a no-op here: process groups and job control are Unix's.
func takeTerminal() (release func()) { return func() {} }

var stopSignals = []os.Signal{os.Interrupt}
