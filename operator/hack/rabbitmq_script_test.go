package hack

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rabbitmq.sh installs what the event tests need (on a fresh machine with
// apt-get) and prints where it is; what it prints must be usable.
func TestRabbitMQScript(t *testing.T) {
	run := func(args ...string) (string, string, error) {
		cmd := exec.Command("bash", append([]string{scriptPath(t, "rabbitmq.sh")}, args...)...)
		cmd.Env = append(os.Environ(), "MULTINIC_CACHE="+t.TempDir())
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return strings.TrimSpace(out.String()), errOut.String(), err
	}
	_, stderr, err := run("nonsense")
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 2, exit.ExitCode())
	assert.Contains(t, stderr, "usage")

	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("may install Debian packages")
	}
	sbin, stderr, err := run("server")
	require.NoError(t, err, stderr)
	for _, tool := range []string{"rabbitmq-server", "rabbitmqctl"} {
		info, err := os.Stat(filepath.Join(sbin, tool))
		require.NoError(t, err)
		assert.NotZero(t, info.Mode()&0o111, tool+" is executable")
	}
	python, stderr, err := run("oslo")
	require.NoError(t, err, stderr)
	out, err := exec.Command(python, "-c", "import oslo_messaging; print(oslo_messaging.Notifier.__name__)").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, "Notifier", strings.TrimSpace(string(out)))
}
