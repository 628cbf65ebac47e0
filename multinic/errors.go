package multinic

import (
	"errors"
	"strings"
)

// Reason classifies a failed pass. The values are the condition reasons of
// the OpenstackConfig status, so callers map errors without matching strings.
type Reason string

const (
	ReasonConfig          Reason = "ConfigError"
	ReasonContrabass      Reason = "ContrabassError"
	ReasonKeystone        Reason = "KeystoneError"
	ReasonNeutronEndpoint Reason = "NeutronEndpointError"
	ReasonNeutronPort     Reason = "NeutronPortError"
	ReasonNeutronSubnet   Reason = "NeutronSubnetError"
	ReasonSubnetRequired  Reason = "SubnetRequired"
	ReasonSubnetNotFound  Reason = "SubnetNotFound"
	ReasonSubnetNotUnique Reason = "SubnetNotUnique"
	ReasonViolaPost       Reason = "ViolaPostError"
	// ReasonNova covers a missing compute endpoint or Nova failing for every
	// VM; the SPEC names no reason for it and guessing node names is worse.
	ReasonNova Reason = "NovaError"
	// ReasonInventory means the configs were sent but could not be recorded,
	// so the next pass will send them again.
	ReasonInventory Reason = "InventoryError"
	// ReasonInternal is a bug of ours (a recovered panic), never a
	// dependency's fault: the pass fails, the process keeps running.
	ReasonInternal Reason = "InternalError"
)

// Error is a failed pass with its reason.
type Error struct {
	Reason Reason
	Err    error
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the reason carried by err, or "" when err is nil or did
// not come from this package.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// fail builds an Error whose message has every secret masked: dependency
// errors may echo request details, and these errors end up in CR status.
func fail(reason Reason, err error, secrets ...string) *Error {
	return &Error{Reason: reason, Err: redacted{err: err, secrets: secrets}}
}

type redacted struct {
	err     error
	secrets []string
}

func (r redacted) Error() string {
	msg := r.err.Error()
	for _, s := range r.secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[REDACTED]")
		}
	}
	return msg
}

// Unwrap keeps errors.Is/As working on the cause (for example to find a
// context cancellation) while Error() stays masked.
func (r redacted) Unwrap() error { return r.err }
