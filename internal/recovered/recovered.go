// Package recovered turns a panic in a goroutine of a sync pass into an
// error, so a bug of ours (or of a library we call) fails one pass instead
// of killing the operator and every other config with it.
package recovered

import (
	"fmt"
	"runtime/debug"

	"github.com/multinic/multinic/internal/safetext"
)

// maxValueBytes bounds the panic value in the message: it can hold any text,
// including a dependency's, and the message reaches status and logs.
const maxValueBytes = 200

// PanicError is a recovered panic. Its message carries the panic value, cut
// to one short line; the stack is kept apart for logs and never appears in
// the message.
type PanicError struct {
	Value string
	Stack []byte
}

func (e *PanicError) Error() string { return "recovered panic: " + e.Value }

// Call runs fn and returns its error, or a *PanicError if it panicked.
func Call(fn func() error) (err error) {
	defer Into(&err)
	return fn()
}

// Into turns a panic of the calling function into *err. It must be called
// directly by defer, as recover only works there.
func Into(err *error) {
	if v := recover(); v != nil { //nolint:revive // the defer rule cannot see that every caller defers Into
		*err = &PanicError{Value: safetext.OneLine(fmt.Sprint(v), maxValueBytes), Stack: debug.Stack()}
	}
}
