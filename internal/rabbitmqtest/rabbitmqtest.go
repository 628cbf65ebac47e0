// Package rabbitmqtest runs real RabbitMQ brokers for tests: Debian's
// rabbitmq-server as an unprivileged process of the test binary, on free
// loopback ports, with its data, logs, Erlang cookie and port mapper of its
// own, so several test binaries (and a system broker) can run side by side.
//
// operator/hack/rabbitmq.sh installs the package with apt-get when it is
// missing, once per machine, behind a file lock. A broker that cannot be
// started skips the test, except under CI=true, where it fails it: a CI run
// must never pass by testing nothing.
//
// A test binary shares one broker (Shared) and gives each test its own
// vhost and user (NewAccount); tests that stop the broker start their own
// (Start). Wrap TestMain with Main so the shared broker is stopped.
package rabbitmqtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds a broker's boot: about 5 s on an idle machine, and
// well over 20 s on a loaded 2-core one.
const StartTimeout = 3 * time.Minute

// Broker is one running (or stopped) RabbitMQ node.
type Broker struct {
	// Host and Port are the AMQP listener (127.0.0.1).
	Host string
	Port int
	// TLSPort is the AMQPS listener of a StartTLS broker, whose certificate
	// (for 127.0.0.1 and localhost) is signed by the CA in CAPEM.
	TLSPort int
	CAPEM   []byte

	dir      string
	sbin     string
	node     string
	env      []string
	epmdPort int

	mu   sync.Mutex
	proc *exec.Cmd
	exit <-chan struct{} // closed when proc has exited
	epmd *exec.Cmd

	poolMu sync.Mutex
	pool   []Account // created by NewAccount ahead of use, none handed out yet
}

// Addr is the AMQP listener as host:port, the form Contrabass lists.
func (b *Broker) Addr() string { return net.JoinHostPort(b.Host, strconv.Itoa(b.Port)) }

// Start installs rabbitmq-server when missing and starts a new broker. Close
// it when done.
func Start() (*Broker, error) { return start(false) }

// StartTLS is Start with an AMQPS listener besides the plain one.
func StartTLS() (*Broker, error) { return start(true) }

// TLSAddr is the AMQPS listener as host:port.
func (b *Broker) TLSAddr() string { return net.JoinHostPort(b.Host, strconv.Itoa(b.TLSPort)) }

func start(withTLS bool) (*Broker, error) {
	sbin, err := hackScript("server")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "multinic-rabbitmq-")
	if err != nil {
		return nil, err
	}
	b := &Broker{Host: "127.0.0.1", dir: dir, sbin: sbin}
	if err := b.prepare(withTLS); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := b.startEPMD(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := b.Restart(); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// prepare picks ports and writes the node's configuration.
func (b *Broker) prepare(withTLS bool) error {
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	b.Port, b.epmdPort = ports[0], ports[2]
	b.node = "multinic-test-" + randomHex(4) + "@localhost"
	home := filepath.Join(b.dir, "home")
	for _, d := range []string{home, filepath.Join(b.dir, "mnesia"), filepath.Join(b.dir, "log")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	files := map[string]string{
		// The CLI and the node find each other by this cookie in HOME.
		filepath.Join(home, ".erlang.cookie"):     randomHex(20),
		filepath.Join(b.dir, "enabled_plugins"):   "[].\n", // management and every other plugin off
		filepath.Join(b.dir, "rabbitmq-env.conf"): "",      // not /etc/rabbitmq's
		filepath.Join(b.dir, "rabbitmq.conf"): fmt.Sprintf("listeners.tcp.default = 127.0.0.1:%d\n"+
			"log.file.level = info\nlog.console = false\ndisk_free_limit.absolute = 10MB\n", b.Port),
	}
	if withTLS {
		b.TLSPort = ports[3]
		ca, cert, key, err := selfSignedChain()
		if err != nil {
			return err
		}
		b.CAPEM = ca
		for name, content := range map[string][]byte{"ca.pem": ca, "cert.pem": cert, "key.pem": key} {
			if err := os.WriteFile(filepath.Join(b.dir, name), content, 0o400); err != nil {
				return err
			}
		}
		conf := filepath.Join(b.dir, "rabbitmq.conf")
		files[conf] += fmt.Sprintf("listeners.ssl.default = 127.0.0.1:%d\n"+
			"ssl_options.cacertfile = %s\nssl_options.certfile = %s\nssl_options.keyfile = %s\n"+
			"ssl_options.verify = verify_none\nssl_options.fail_if_no_peer_cert = false\n",
			b.TLSPort, filepath.Join(b.dir, "ca.pem"), filepath.Join(b.dir, "cert.pem"), filepath.Join(b.dir, "key.pem"))
	}
	for name, content := range files {
		if err := os.WriteFile(name, []byte(content), 0o400); err != nil {
			return err
		}
	}
	b.env = append(os.Environ(),
		"HOME="+home,
		"RABBITMQ_NODENAME="+b.node,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(b.Port),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(ports[1]),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(b.dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(b.dir, "log"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(b.dir, "rabbitmq"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(b.dir, "advanced.config"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(b.dir, "rabbitmq-env.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(b.dir, "enabled_plugins"),
		"RABBITMQ_PID_FILE="+filepath.Join(b.dir, "rabbitmq.pid"),
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		"ERL_EPMD_PORT="+strconv.Itoa(b.epmdPort),
		"ERL_EPMD_ADDRESS=127.0.0.1",
	)
	return nil
}

// startEPMD runs the Erlang port mapper of this broker as a child, so that
// it goes with the test binary instead of lingering as a daemon.
func (b *Broker) startEPMD() error {
	epmd, err := exec.LookPath("epmd")
	if err != nil {
		epmd = "/usr/lib/erlang/bin/epmd"
	}
	cmd := exec.Command(epmd, "-port", strconv.Itoa(b.epmdPort), "-address", "127.0.0.1")
	cmd.Env = b.env
	if _, err := startChild(cmd); err != nil {
		return fmt.Errorf("rabbitmqtest: starting epmd: %w", err)
	}
	b.epmd = cmd
	// The node registers with it at boot; wait until it listens.
	return waitFor(10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(b.epmdPort)), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// Restart starts the node of a stopped broker again, with its data (vhosts,
// users, durable queues and persistent messages survive), and waits until
// it accepts connections.
func (b *Broker) Restart() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running() {
		return errors.New("rabbitmqtest: the broker is running")
	}
	out, err := os.OpenFile(filepath.Join(b.dir, "log", "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(filepath.Join(b.sbin, "rabbitmq-server"))
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = b.env, b.dir, out, out
	exit, err := startChild(cmd)
	if err != nil {
		return fmt.Errorf("rabbitmqtest: starting rabbitmq-server: %w", err)
	}
	b.proc, b.exit = cmd, exit
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	// rabbitmq-server execs the Erlang VM, so the pid is the node's.
	waitErr := make(chan error, 1)
	go func() {
		_, err := b.ctl(ctx, "wait", "--pid", strconv.Itoa(cmd.Process.Pid), "--timeout", strconv.Itoa(int(StartTimeout.Seconds())))
		waitErr <- err
	}()
	select {
	case err = <-waitErr:
	case <-exit:
		err = errors.New("rabbitmq-server exited during boot")
	}
	if err != nil {
		b.killLocked()
		return fmt.Errorf("rabbitmqtest: broker did not start: %w\n%s", err, b.LogTail(30))
	}
	return nil
}

func (b *Broker) running() bool {
	if b.exit == nil {
		return false
	}
	select {
	case <-b.exit:
		return false
	default:
		return true
	}
}

// Stop shuts the node down as an operator would (SIGTERM: connections are
// closed with CONNECTION_FORCED) and waits until it has exited.
func (b *Broker) Stop() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.running() {
		return nil
	}
	_ = b.proc.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exit:
		return nil
	case <-time.After(time.Minute):
		b.killLocked()
		return errors.New("rabbitmqtest: the broker ignored SIGTERM for a minute; killed it")
	}
}

// Kill ends the node abruptly, as a crash or a power loss would.
func (b *Broker) Kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.killLocked()
}

func (b *Broker) killLocked() {
	if !b.running() {
		return
	}
	_ = b.proc.Process.Kill()
	<-b.exit
}

// Close stops the broker and its port mapper and removes its files.
func (b *Broker) Close() {
	if err := b.Stop(); err != nil {
		b.Kill()
	}
	if b.epmd != nil && b.epmd.Process != nil {
		_ = b.epmd.Process.Kill()
	}
	os.RemoveAll(b.dir)
}

// Ctl runs rabbitmqctl against the broker and returns its output.
func (b *Broker) Ctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return b.ctl(ctx, args...)
}

func (b *Broker) ctl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(b.sbin, "rabbitmqctl"), append([]string{"-n", b.node, "-q"}, args...)...)
	cmd.Env, cmd.Dir = b.env, b.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("rabbitmqctl %s: %w: %s", args[0], err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// LogTail returns the last n lines of the node's log, for failure messages.
func (b *Broker) LogTail(n int) string {
	var all []string
	for _, name := range []string{"console.log", strings.SplitN(b.node, "@", 2)[0] + "@localhost.log"} {
		data, err := os.ReadFile(filepath.Join(b.dir, "log", name))
		if err == nil {
			all = append(all, strings.Split(strings.TrimRight(string(data), "\n"), "\n")...)
		}
	}
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return strings.Join(all, "\n")
}

// Account is a vhost and a user with a password on a broker.
type Account struct {
	Addr     string // host:port
	Vhost    string
	User     string
	Password string
}

// URL is the account as an AMQP URL, for publishers in tests.
func (a Account) URL() string {
	return fmt.Sprintf("amqp://%s:%s@%s/%s", a.User, a.Password, a.Addr, urlPathEscape(a.Vhost))
}

// Permissions are rabbitmqctl set_permissions regular expressions.
type Permissions struct{ Configure, Write, Read string }

// AllPermissions may do anything in the vhost.
var AllPermissions = Permissions{".*", ".*", ".*"}

// accountBatch is how many accounts NewAccount creates per rabbitmqctl
// call: each call boots an Erlang VM (about a second), and a test binary
// asks for one account per test.
const accountBatch = 8

// NewAccount returns a fresh vhost and a user with all permissions on it,
// so each test sees only its own exchanges and queues. Accounts are created
// in batches; none is handed out twice.
func (b *Broker) NewAccount(t testing.TB) Account {
	t.Helper()
	b.poolMu.Lock()
	defer b.poolMu.Unlock()
	if len(b.pool) == 0 {
		accounts := make([]Account, accountBatch)
		for i := range accounts {
			accounts[i] = b.newAccount("test-" + randomHex(6))
		}
		if err := b.importAccounts(accounts, AllPermissions); err != nil {
			t.Fatal(err)
		}
		b.pool = accounts
	}
	a := b.pool[0]
	b.pool = b.pool[1:]
	return a
}

// AddAccount creates a user with a random password and the given
// permissions on vhost, creating the vhost when needed, in one rabbitmqctl
// call.
func (b *Broker) AddAccount(vhost string, perms Permissions) (Account, error) {
	a := b.newAccount(vhost)
	return a, b.importAccounts([]Account{a}, perms)
}

// newAccount is an account on vhost for a new user, not yet created.
func (b *Broker) newAccount(vhost string) Account {
	return Account{Addr: b.Addr(), Vhost: vhost, User: "user-" + randomHex(6), Password: "pw-" + randomHex(12)}
}

// importAccounts creates the accounts' vhosts and users, with perms on
// their vhosts, in one rabbitmqctl call.
func (b *Broker) importAccounts(accounts []Account, perms Permissions) error {
	var vhosts, users, permissions []map[string]any
	for _, a := range accounts {
		vhosts = append(vhosts, map[string]any{"name": a.Vhost})
		users = append(users, map[string]any{"name": a.User, "password_hash": passwordHash(a.Password),
			"hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ""})
		permissions = append(permissions, map[string]any{"user": a.User, "vhost": a.Vhost,
			"configure": perms.Configure, "write": perms.Write, "read": perms.Read})
	}
	data, err := json.Marshal(map[string]any{"vhosts": vhosts, "users": users, "permissions": permissions})
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(b.dir, "definitions-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	f.Close()
	if _, err := b.Ctl("import_definitions", f.Name()); err != nil {
		what := fmt.Sprintf("vhost %s and user %s", accounts[0].Vhost, accounts[0].User)
		if len(accounts) > 1 {
			what += fmt.Sprintf(" and %d more accounts", len(accounts)-1)
		}
		return fmt.Errorf("rabbitmqtest: creating %s: %w", what, err)
	}
	return nil
}

// passwordHash is RabbitMQ's rabbit_password_hashing_sha256: base64 of a
// 4-byte salt followed by SHA-256(salt || password).
func passwordHash(password string) string {
	var salt [4]byte
	_, _ = rand.Read(salt[:])
	sum := sha256.Sum256(append(salt[:], password...))
	return base64.StdEncoding.EncodeToString(append(salt[:], sum[:]...))
}

var (
	sharedOnce   sync.Once
	shared       *Broker
	sharedErr    error
	sharedClosed bool
	sharedMu     sync.Mutex
)

// Shared returns the test binary's broker, starting it on first use. When it
// cannot be started the test is skipped, or failed under CI=true.
func Shared(t testing.TB) *Broker {
	t.Helper()
	sharedOnce.Do(func() {
		start := time.Now()
		shared, sharedErr = Start()
		if sharedErr == nil {
			fmt.Fprintf(os.Stderr, "rabbitmqtest: broker %s up in %s\n", shared.Addr(), time.Since(start).Round(100*time.Millisecond))
		}
	})
	if sharedErr != nil {
		Unavailable(t, sharedErr)
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedClosed {
		t.Fatal("rabbitmqtest: the shared broker was closed")
	}
	return shared
}

// Unavailable skips the test for a missing dependency, or fails it under
// CI=true.
func Unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("RabbitMQ is required under CI=true: %v", err)
	}
	t.Skipf("RabbitMQ unavailable (CI=true makes this a failure): %v", err)
}

// Main runs the tests and then stops the shared broker; call it from
// TestMain: func TestMain(m *testing.M) { os.Exit(rabbitmqtest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	sharedMu.Lock()
	sharedClosed = true
	sharedMu.Unlock()
	if shared != nil {
		shared.Close()
	}
	return code
}

// OsloPython returns a python3 that imports oslo_messaging (Debian's
// python3-oslo.messaging, installed when missing), or skips the test (fails
// it under CI=true).
func OsloPython(t testing.TB) string {
	t.Helper()
	py, err := hackScript("oslo")
	if err != nil {
		Unavailable(t, err)
	}
	return py
}

var hackMu sync.Mutex

// hackScript runs operator/hack/rabbitmq.sh and returns what it prints.
func hackScript(what string) (string, error) {
	hackMu.Lock()
	defer hackMu.Unlock()
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("bash", filepath.Join(root, "operator", "hack", "rabbitmq.sh"), what)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("operator/hack/rabbitmq.sh %s: %w\n%s", what, err, lastLines(stderr.String(), 20))
	}
	return strings.TrimSpace(stdout.String()), nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module github.com/multinic/multinic\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("rabbitmqtest: not inside the multinic module")
		}
		dir = parent
	}
}

// startChild starts cmd from an OS thread that stays alive until cmd exits,
// with the kernel set to kill cmd when that thread dies: a test binary that
// is killed (a timeout, ^C) takes its broker with it. The returned channel
// is closed when cmd has exited.
func startChild(cmd *exec.Cmd) (<-chan struct{}, error) {
	setDeathSignal(cmd)
	started := make(chan error, 1)
	exit := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine, after cmd.
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(exit)
	}()
	return exit, <-started
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func waitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("rabbitmqtest: condition not met within %s", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func urlPathEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
