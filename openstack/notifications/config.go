package notifications

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
)

// Defaults of a Config.
const (
	DefaultVhost          = "/"
	DefaultTopic          = "notifications"
	DefaultPriority       = "info"
	DefaultPrefetch       = 200
	DefaultQueueExpiry    = 30 * time.Minute
	DefaultMaxLength      = 50000
	DefaultMaxLengthBytes = 256 << 20
	DefaultHeartbeat      = 10 * time.Second
	DefaultDialTimeout    = 15 * time.Second
	DefaultMinBackoff     = time.Second
	DefaultMaxBackoff     = time.Minute
	DefaultRecheck        = 30 * time.Second
	amqpPort              = 5672
	amqpsPort             = 5671
)

// DefaultExchanges are the control exchanges Neutron and Nova publish
// notifications on (their control_exchange defaults).
var DefaultExchanges = []string{"neutron", "nova"}

// ErrNoCredentials is returned when a Config lacks the user, the password
// or any broker address: Contrabass hands no bus for the provider.
var ErrNoCredentials = errors.New("no RabbitMQ credentials: user, password and at least one broker address are needed")

// Config is one provider's message bus and how to consume it. The
// credentials come from Contrabass's provider record (rabbitMQId, the
// decrypted rabbitMQPw, rabbitMQUrls); everything else has defaults.
type Config struct {
	User     string
	Password string
	// URLs are the brokers, host:port as Contrabass lists them (5672, or
	// 5671 with TLS, when the port is missing). amqp:// and amqps:// URLs are
	// read too; any user info in them is ignored.
	URLs []string
	// Vhost defaults to "/".
	Vhost string
	// TLS, when set, connects with TLS.
	TLS *TLSConfig

	// Queue is this consumer's own queue; name it with QueueName so that
	// each operator install and provider has its own. Required.
	Queue string
	// Exchanges are the topic exchanges to bind to; default neutron and nova.
	Exchanges []string
	// Topics are the notification topics ([oslo_messaging_notifications]
	// topics); default notifications. Nova's versioned notifications use
	// versioned_notifications.
	Topics []string
	// Priorities are bound as <topic>.<priority> routing keys; default info.
	Priorities []string

	// Prefetch is how many unacknowledged messages the broker may send
	// ahead. Default 200.
	Prefetch int
	// QueueExpiry deletes the queue after it has had no consumer this long
	// (x-expires), so an uninstalled operator leaves nothing behind.
	// Default 30m.
	QueueExpiry time.Duration
	// MaxLength and MaxLengthBytes cap the queue (x-max-length,
	// x-max-length-bytes); beyond them the oldest messages are dropped
	// (x-overflow drop-head): a consumer that comes back runs a full pass
	// anyway, and the newest changes are the ones worth keeping. Defaults
	// 50000 messages and 256 MiB.
	MaxLength      int
	MaxLengthBytes int
	// MaxBodySize bounds a message body; larger ones are dropped unread.
	// Default DefaultMaxBodySize.
	MaxBodySize int
	// DedupWindow is how many message IDs are remembered to drop
	// duplicates. Default DefaultDedupWindow.
	DedupWindow int

	// Heartbeat detects a dead connection (a vanished broker or a silent
	// network drop) within about two intervals. Default 10s.
	Heartbeat time.Duration
	// DialTimeout bounds connecting, TLS and the AMQP handshake. Default 15s.
	DialTimeout time.Duration
	// MinBackoff and MaxBackoff bound the jittered, doubling wait between
	// rounds of connection attempts over all URLs. Defaults 1s and 1m.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// RecheckInterval is how often exchanges that did not exist are looked
	// for again while connected (a service declares its exchange when it
	// first publishes). Default 30s.
	RecheckInterval time.Duration
	// ConnectionName is shown in the broker's connection list; default
	// "multinic <queue>".
	ConnectionName string

	// OnConnect is called each time the consumer is subscribed again after
	// being away (the first connect included), and when an exchange that
	// was missing got bound: what was announced meanwhile was missed, so
	// this is when to run a full pass. Called from the consumer's goroutine;
	// it must not block.
	OnConnect func()
	// OnState is called with every change of State, from the consumer's
	// goroutine; it must not block.
	OnState func(State)
	// Logger receives connection events; the zero Logger discards them.
	Logger logr.Logger
}

// TLSConfig is the TLS side of a bus.
type TLSConfig struct {
	// CAPEM holds PEM CA certificates to trust; the system's when empty.
	CAPEM []byte
	// InsecureSkipVerify accepts any certificate: an opt-in for test
	// clouds, never a default.
	InsecureSkipVerify bool
	// ServerName overrides the name checked in the certificate; default
	// the host of each URL.
	ServerName string
}

// QueueName is the queue of one operator install (e.g. its namespace) and
// provider: "multinic.<install>.<provider>", with characters other than
// letters, digits, '.', '-' and '_' replaced by '-'. RabbitMQ allows 255
// bytes; longer inputs are cut.
func QueueName(install, provider string) string {
	name := "multinic." + queueSafe(install) + "." + queueSafe(provider)
	if len(name) > 255 {
		name = name[:255]
	}
	return name
}

func queueSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '-'
	}, s)
}

// Permissions are the least privileges the consumer needs in its vhost, as
// rabbitmqctl set_permissions regular expressions: configure its own queue
// (declare, and delete when its arguments changed), write it (bindings)
// and read the exchanges (bindings) and the queue (consuming). Check's
// probe queue is named <queue>.check.<random>, which they cover too.
func Permissions(queue string, exchanges []string) (configure, write, read string) {
	if len(exchanges) == 0 {
		exchanges = DefaultExchanges
	}
	q := "^" + quoteRegexp(queue) + `(\.check\..*)?$`
	ex := make([]string, len(exchanges))
	for i, e := range exchanges {
		ex[i] = quoteRegexp(e)
	}
	read = "^(" + quoteRegexp(queue) + `(\.check\..*)?|` + strings.Join(ex, "|") + ")$"
	return q, q, read
}

func quoteRegexp(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// withDefaults fills in the defaults; it does not validate.
func (c Config) withDefaults() Config {
	if c.Vhost == "" {
		c.Vhost = DefaultVhost
	}
	if len(c.Exchanges) == 0 {
		c.Exchanges = DefaultExchanges
	}
	if len(c.Topics) == 0 {
		c.Topics = []string{DefaultTopic}
	}
	if len(c.Priorities) == 0 {
		c.Priorities = []string{DefaultPriority}
	}
	setDefault(&c.Prefetch, DefaultPrefetch)
	setDefault(&c.QueueExpiry, DefaultQueueExpiry)
	setDefault(&c.MaxLength, DefaultMaxLength)
	setDefault(&c.MaxLengthBytes, DefaultMaxLengthBytes)
	setDefault(&c.MaxBodySize, DefaultMaxBodySize)
	setDefault(&c.DedupWindow, DefaultDedupWindow)
	setDefault(&c.Heartbeat, DefaultHeartbeat)
	setDefault(&c.DialTimeout, DefaultDialTimeout)
	setDefault(&c.MinBackoff, DefaultMinBackoff)
	setDefault(&c.MaxBackoff, DefaultMaxBackoff)
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	setDefault(&c.RecheckInterval, DefaultRecheck)
	if c.ConnectionName == "" {
		c.ConnectionName = "multinic " + c.Queue
	}
	return c
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// hasCredentials tells a provider without a bus from a broken config.
func (c *Config) hasCredentials() bool {
	return c.User != "" && c.Password != "" && len(c.URLs) > 0
}

// validate checks what is not about credentials.
func (c *Config) validate() error {
	if c.Queue == "" {
		return errors.New("notifications config: queue name is empty")
	}
	if len(c.Queue) > 255 {
		return errors.New("notifications config: queue name is longer than 255 bytes")
	}
	if c.Prefetch > 65535 {
		return fmt.Errorf("notifications config: prefetch %d is over 65535", c.Prefetch)
	}
	if c.TLS != nil && len(c.TLS.CAPEM) > 0 {
		if !x509.NewCertPool().AppendCertsFromPEM(c.TLS.CAPEM) {
			return errors.New("notifications config: the TLS CA holds no PEM certificate")
		}
	}
	for _, u := range c.URLs {
		if _, err := parseAddr(u, c.TLS != nil); err != nil {
			return err
		}
	}
	return nil
}

// parseAddr turns a Contrabass address (host:port, or an AMQP URL) into
// host:port. The error never repeats the input: a URL may carry a password.
func parseAddr(s string, useTLS bool) (string, error) {
	port := amqpPort
	if useTLS {
		port = amqpsPort
	}
	hostport := strings.TrimSpace(s)
	if strings.Contains(hostport, "://") {
		u, err := url.Parse(hostport)
		if err != nil || u.Host == "" {
			return "", errors.New("notifications config: a broker URL cannot be parsed")
		}
		if u.Scheme == "amqps" {
			port = amqpsPort
		}
		hostport = u.Host
	}
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port: the whole thing is the host (an IPv6 literal needs brackets).
		host, p = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), strconv.Itoa(port)
	}
	if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
		return "", fmt.Errorf("notifications config: broker address %q has a bad port", clip(redactUserinfo(s)))
	}
	if host == "" || strings.ContainsAny(host, "/@ ") {
		return "", fmt.Errorf("notifications config: broker address %q has a bad host", clip(redactUserinfo(s)))
	}
	return net.JoinHostPort(host, p), nil
}

// redactUserinfo drops anything up to '@' of a URL-ish string.
func redactUserinfo(s string) string {
	if i := strings.LastIndex(s, "@"); i >= 0 {
		scheme := ""
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			scheme = s[:j+3]
		}
		return scheme + "…@" + s[i+1:]
	}
	return s
}

func (t *TLSConfig) tlsConfig(host string) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // an explicit opt-in
	if t.ServerName != "" {
		cfg.ServerName = t.ServerName
	}
	if len(t.CAPEM) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(t.CAPEM)
		cfg.RootCAs = pool
	}
	return cfg
}
