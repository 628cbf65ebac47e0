package multinic

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"slices"
	"strings"
	"syscall"

	"github.com/multinic/multinic/internal/recovered"
	"github.com/multinic/multinic/internal/safetext"
)

// Reason classifies a failed pass. The values are the condition reasons of
// the OpenstackConfig status, so callers map errors without matching strings.
type Reason string

// Reasons without a comment of their own name the dependency that failed,
// or what is wrong with the target subnet.
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
	// ReasonViolaDelete: Viola's DELETE of a node config failed where the
	// caller cannot go on without it (Release, for a deleted config).
	ReasonViolaDelete Reason = "ViolaDeleteError"
	// ReasonViola is Check's Viola step failing: Viola could not be
	// reached, or its GET /healthz says it is not healthy. Nothing was
	// posted, so it is never ViolaPostError; a pass never carries it.
	ReasonViola Reason = "ViolaError"
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

// Error is a failed pass: its reason and, where the library can tell, what
// to change (Setting, Kind, Hint), so that callers advise without matching
// message text. Error() names settings by their library names; Message
// names them as the caller does.
type Error struct {
	Reason Reason
	// Setting is the Config field to change, "" when no setting is at fault
	// (a dependency's own answer).
	Setting Setting
	// Kind is what is wrong, "" when nothing more is known.
	Kind Kind
	// Hint is advice on what to change, in library names; Message renders
	// it with the caller's.
	Hint string
	// Err is the cause, its secrets masked.
	Err error
	// Also are further problems found with this one (several bad settings,
	// several VMs a pass would leave out), each with its own Reason,
	// Setting, Kind and Hint. Error() lists them after this one.
	Also []*Error

	// text is this problem's message in the caller's names; nil for an
	// Error made outside this package, whose message is Err and Hint.
	text func(Names) string
}

func (e *Error) Error() string { return e.Message(nil) }
func (e *Error) Unwrap() error { return e.Err }

// Message is the error's message with settings named as names calls them,
// e.g. "ConfigError: no Viola endpoint: set settings.violaEndpoint".
func (e *Error) Message(names Names) string {
	return string(e.Reason) + ": " + e.Detail(names)
}

// Detail is Message without the leading reason, for a caller that puts
// the error into a sentence of its own.
func (e *Error) Detail(names Names) string {
	var b strings.Builder
	b.WriteString(e.describe(names))
	for _, more := range e.Also {
		b.WriteString("; ")
		b.WriteString(more.describe(names))
	}
	return b.String()
}

func (e *Error) describe(names Names) string {
	if e.text != nil {
		return e.text(names)
	}
	var msg string
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

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
	return failWith(reason, err, advice{}, secrets...)
}

// advice is what the library can say about a failure beyond its cause. Its
// texts name settings through the caller's Names.
type advice struct {
	kind    Kind
	setting Setting
	// prefix comes before the cause, hint after it in parentheses; both
	// are ours, so they survive the cut of a long cause.
	prefix, hint func(Names) string
}

func failWith(reason Reason, err error, a advice, secrets ...string) *Error {
	var panicked *PanicError
	if errors.As(err, &panicked) {
		reason, a = ReasonInternal, advice{}
	}
	cause := safeError{err: err, secrets: secrets}
	e := &Error{Reason: reason, Setting: a.setting, Kind: a.kind, Err: cause}
	if a.hint != nil {
		e.Hint = a.hint(nil)
	}
	e.text = func(n Names) string {
		msg := cause.Error()
		if a.prefix != nil {
			msg = a.prefix(n) + msg
		}
		if a.hint != nil {
			msg += " (" + a.hint(n) + ")"
		}
		return msg
	}
	return e
}

// problem is an Error of the library's own making about a setting (a
// Config that cannot be used, a VM Check finds left out): text is the whole
// message, naming settings through the caller's Names. Any outside text in
// it is masked and cut.
func problem(reason Reason, setting Setting, kind Kind, secrets []string, text func(Names) string) *Error {
	e := &Error{Reason: reason, Setting: setting, Kind: kind}
	e.text = func(n Names) string { return safeText(plainError(text(n)), secrets) }
	e.Err = plainError(e.text(nil))
	return e
}

// problems joins errors into one: the first, with the rest as its Also.
func problems(errs []*Error, more ...*Error) *Error {
	errs = append(errs, more...)
	if len(errs) == 0 {
		return nil
	}
	first := *errs[0]
	first.Also = append(slices.Clip(first.Also), errs[1:]...)
	return &first
}

type plainError string

func (e plainError) Error() string { return string(e) }

type safeError struct {
	err     error
	secrets []string
}

func (e safeError) Error() string {
	return safetext.OneLine(safetext.RedactURLs(safetext.Mask(e.err.Error(), e.secrets...)), maxCauseText)
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
// dependency: the setting to trust it (an untrusted certificate) or where
// its URL comes from (dial and DNS errors). ok is false for any other error.
func connectionAdvice(err error, dep *dependency, cfg Config) (a advice, ok bool) {
	if dep == nil {
		return advice{}, false
	}
	if plainHTTP(err) {
		return advice{kind: KindPlainHTTP, setting: dep.url, hint: func(n Names) string {
			return "an https:// URL, but the server speaks plain HTTP: use http:// in " + dep.where(cfg, n) + ", or enable TLS on the server"
		}}, true
	}
	if untrustedCertificate(err) {
		return advice{kind: KindUntrusted, setting: dep.tls, hint: func(n Names) string {
			return "its TLS certificate is not trusted: trust its CA, or set " + n.Of(dep.tls) + " to true"
		}}, true
	}
	var dns *net.DNSError
	var op *net.OpError
	if errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial") || errors.Is(err, syscall.ECONNREFUSED) {
		return advice{kind: KindUnreachable, setting: dep.url, hint: func(n Names) string {
			return "cannot connect: check " + dep.where(cfg, n)
		}}, true
	}
	return advice{}, false
}

// plainHTTP reports whether err is a TLS handshake answered in plain HTTP:
// an https:// URL whose server has no TLS.
func plainHTTP(err error) bool {
	var record tls.RecordHeaderError
	if errors.As(err, &record) && strings.HasPrefix(string(record.RecordHeader[:]), "HTTP/") {
		return true
	}
	// net/http says it in text only.
	return strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
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
