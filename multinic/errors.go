package multinic

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"syscall"

	"github.com/multinic/multinic/internal/recovered"
	"github.com/multinic/multinic/internal/safetext"
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

// PanicError is the cause of an InternalError: a panic recovered in a
// goroutine of the pass. Its message holds the panic value cut to one short
// line; Stack is for logs and never part of the message.
type PanicError = recovered.PanicError

// ReasonOf returns the reason carried by err, or "" when err is nil or did
// not come from this package.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// maxCauseText bounds the part of an error message that comes from a
// dependency or a panic; it ends up in CR status, events and logs.
const maxCauseText = 2048

// fail builds an Error whose message is safe for status: every secret is
// masked, then the text is cut to one bounded line (masking first, so a cut
// cannot leave part of a secret unmasked). A recovered panic anywhere in
// err makes it an InternalError whatever step it happened in.
func fail(reason Reason, err error, secrets ...string) *Error {
	return failNote(reason, err, "", secrets...)
}

// failNote is fail with a note of ours appended after the cut, so advice
// such as which setting to check always survives a long cause.
func failNote(reason Reason, err error, note string, secrets ...string) *Error {
	var panicked *PanicError
	if errors.As(err, &panicked) {
		reason = ReasonInternal
	}
	return &Error{Reason: reason, Err: safeError{err: err, secrets: secrets, note: note}}
}

type safeError struct {
	err     error
	secrets []string
	note    string
}

func (e safeError) Error() string {
	msg := safetext.OneLine(safetext.RedactURLs(safetext.Mask(e.err.Error(), e.secrets...)), maxCauseText)
	if e.note != "" {
		msg += " (" + e.note + ")"
	}
	return msg
}

// Unwrap keeps errors.Is/As working on the cause (for example to find a
// context cancellation) while Error() stays masked.
func (e safeError) Unwrap() error { return e.err }

// safeText is fail's treatment for text that is not an error of the pass,
// such as a skipped VM's reason.
func safeText(err error, secrets []string) string {
	return safeError{err: err, secrets: secrets}.Error()
}

// connectionAdvice says what to change when err is a failure to reach a
// dependency: which setting holds its URL (dial and DNS errors) or its TLS
// setting (an untrusted certificate). It is "" for any other error.
func connectionAdvice(err error, urlSetting, tlsSetting string) string {
	if untrustedCertificate(err) {
		return "its TLS certificate is not trusted: trust its CA, or set " + tlsSetting
	}
	var dns *net.DNSError
	var op *net.OpError
	if errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial") || errors.Is(err, syscall.ECONNREFUSED) {
		return "cannot connect: check " + urlSetting
	}
	return ""
}

func untrustedCertificate(err error) bool {
	var verify *tls.CertificateVerificationError
	var authority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verify) || errors.As(err, &authority) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		// Some layers flatten the cause into text.
		strings.Contains(err.Error(), "x509: ")
}
