package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/multinic/multinic/internal/syncbuf"
	"github.com/multinic/multinic/internal/testenv"
	"github.com/multinic/multinic/multinic/multinictest"
	mnnc "github.com/multinic/multinic/viola/testapi/api/v1alpha1"
)

// TestDemoOnce runs the demo end to end, as `DEMO_ONCE=1 make demo` does,
// and checks what it prints: the node configs the Biz cluster received, the
// CR's status and the inventory's answer.
func TestDemoOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two control planes")
	}
	var out bytes.Buffer
	err := run(context.Background(), &out, options{once: true, inventoryAddr: "127.0.0.1:0", logs: io.Discard})
	require.NoError(t, err, out.String())
	text := out.String()

	nodeLine := regexp.MustCompile(`(?m)^  (\S+) node=(\S+) instance=\S+ provider=provider-1: (.*)$`)
	got := map[string]string{}
	for _, m := range nodeLine.FindAllStringSubmatch(text, -1) {
		assert.Equal(t, m[1], m[2], "object name = spec.nodeName")
		assert.Equal(t, strings.ToLower(m[1]), m[1], "node names are lower-case")
		got[m[1]] = m[3]
	}
	assert.Equal(t, map[string]string{
		"worker-1": "name=multinic0 id=0 mac=fa:16:3e:0a:00:01 address=10.10.0.11 cidr=10.10.0.0/24 mtu=1450; name=multinic1 id=1 mac=fa:16:3e:0b:00:01 address=10.20.0.11 cidr=10.20.0.0/24 mtu=9000",
		"worker-2": "name=multinic0 id=0 mac=fa:16:3e:0a:00:02 address=10.10.0.12 cidr=10.10.0.0/24 mtu=1450",
		"worker-3": "name=multinic0 id=0 mac=fa:16:3e:0a:00:03 address=10.10.0.13 cidr=10.10.0.0/24 mtu=1450",
		"worker-4": "name=multinic0 id=0 mac=fa:16:3e:0a:00:04 address=10.10.0.14 cidr=10.10.0.0/24 mtu=1450",
	}, got, "four MultiNicNodeConfig objects, every interface stored with its name and MTU, management ports and the DOWN port (held back) left out")
	// worker-4 is the server "Worker_4": its node is named as Nova named the
	// guest; the fifth VM's guest name is too long for the node agent.
	assert.Contains(t, text, `00000000-0000-4000-8000-000000000004 → worker-4 (from Nova's OS-EXT-SRV-ATTR:hostname; server name "Worker_4")`)
	assert.Contains(t, text, "nodeName=worker-4 nameFrom=hostname ")
	assert.Contains(t, text, `skippedVM instance=00000000-0000-4000-8000-000000000005: node name of VM 00000000-0000-4000-8000-000000000005 (Nova's OS-EXT-SRV-ATTR:hostname): "`+multinictest.LongHostname+`" is 45 characters long: the node agent names its Job`)
	assert.Contains(t, text, "Degraded=True reason=PartialSync: 1 VM skipped")
	// Synced, or NoChange when a second reconcile (the Secret's watch event)
	// came first; either way Ready.
	assert.Regexp(t, `(?m)^  Ready=True reason=(Synced|NoChange)`, text)
	assert.Contains(t, text, "  removalPolicy=Orphan (a node this CR lets go stays in the Biz cluster, its inventory record marked orphaned) downPortGracePeriod=2m\n")
	assert.Contains(t, text, "  heldPort: port-b-2 of worker-2 is DOWN and was never sent: held until ACTIVE, sent anyway at ")
	assert.Contains(t, text, "  HTTP 200, 4 records")
	assert.Equal(t, 4, strings.Count(text, "providerId=provider-1 nodeName=worker-"))
	assert.Equal(t, 1, strings.Count(text, " interfaces=multinic0,multinic1 "), "the inventory keeps the names too")
}

// TestDemoServesKubectlAccess runs the demo in its serving mode and what it
// prints: the Biz plane answers the kubeconfig it prints, with a name and an
// MTU on every interface kubectl would show, and each kubectl multinic and
// multinicctl command it prints works as printed against the sample CR.
func TestDemoServesKubectlAccess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two control planes")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, out, options{inventoryAddr: "127.0.0.1:0", logs: io.Discard}) }()

	waitFor(t, out, done, "serving the inventory at")
	text := out.String()
	m := regexp.MustCompile(`kubectl --kubeconfig (\S+) -n (\S+) get mnnc -o yaml`).FindStringSubmatch(text)
	require.NotNil(t, m, "the demo prints how to reach the Biz plane\n%s", text)

	cfg, err := clientcmd.BuildConfigFromFlags("", m[1])
	require.NoError(t, err)
	biz, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	list, err := biz.Resource(mnnc.Resource).Namespace(m[2]).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, list.Items, 4)
	for _, obj := range list.Items {
		assert.Equal(t, strings.ToLower(obj.GetName()), obj.GetName())
		ifaces, _, err := unstructured.NestedSlice(obj.Object, "spec", "interfaces")
		require.NoError(t, err)
		require.NotEmpty(t, ifaces)
		for _, raw := range ifaces {
			iface := raw.(map[string]any)
			assert.Regexp(t, `^multinic[0-9]$`, iface["name"], "%s: %v", obj.GetName(), iface)
			assert.Equal(t, fmt.Sprintf("multinic%d", iface["id"]), iface["name"], "%s: name matches id", obj.GetName())
			assert.NotNil(t, iface["mtu"], "%s: %v", obj.GetName(), iface)
		}
	}

	t.Run("the printed CLI commands work as printed", func(t *testing.T) { runPrintedCommands(t, text) })

	cancel()
	assert.NoError(t, <-done, "Ctrl-C is a clean stop")
}

// waitFor waits until the demo has printed want; it fails if the demo stops
// first.
func waitFor(t *testing.T, out *syncbuf.Buffer, done <-chan error, want string) {
	t.Helper()
	deadline := time.After(5 * time.Minute)
	for !strings.Contains(out.String(), want) {
		select {
		case err := <-done:
			require.FailNow(t, "the demo stopped before printing "+want, "%v\n%s", err, out.String())
		case <-deadline:
			require.FailNow(t, "the demo never printed "+want, out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// runPrintedCommands runs every "kubectl multinic" and "go run
// ./operator/cmd/multinicctl" line the demo printed through a shell, from
// the repository root, with the plugin on PATH as make build leaves it.
func runPrintedCommands(t *testing.T, text string) {
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "kubectl-multinic"), "./operator/cmd/kubectl-multinic")
	build.Dir = root
	built, err := build.CombinedOutput()
	require.NoError(t, err, "%s", built)
	_, haveKubectl := exec.LookPath("kubectl")

	var lines []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "  kubectl multinic ") || strings.HasPrefix(line, "  go run ./operator/cmd/multinicctl ") {
			lines = append(lines, strings.TrimSpace(line))
		}
	}
	require.Len(t, lines, 6, "status, check and plan, for the plugin and for multinicctl\n%s", text)
	for _, line := range lines {
		shell := line
		if haveKubectl != nil {
			// What kubectl runs for "kubectl multinic ARGS".
			shell = strings.Replace(line, "kubectl multinic ", "kubectl-multinic ", 1)
		}
		cmd := exec.Command("bash", "-c", shell)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		got, err := cmd.CombinedOutput()
		output := string(got)
		switch {
		case strings.Contains(line, " status "):
			require.NoError(t, err, "%s\n%s", line, got)
			assert.Contains(t, output, "OpenstackConfig "+namespace+"/biz-cluster-1 (generation 1)", line)
			assert.Regexp(t, `(?m)^Nodes +4$`, output, line)
			assert.Contains(t, output, "worker-4  hostname ", line)
		case strings.Contains(line, " check "):
			// The sample's VM whose name is too long for the node agent
			// fails the nova step, on purpose; every other step passes.
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "%s\n%s", line, got)
			assert.Equal(t, 1, exit.ExitCode())
			assert.Contains(t, output, "Checking OpenstackConfig "+namespace+"/biz-cluster-1", line)
			assert.Contains(t, output, "FAILED: 1 of 12 steps (nova).", line)
			assert.Contains(t, output, "4 records for provider provider-1", line)
		case strings.Contains(line, " plan "):
			require.NoError(t, err, "%s\n%s", line, got)
			assert.Contains(t, output, "Plan for OpenstackConfig "+namespace+"/biz-cluster-1", line)
			assert.Contains(t, output, "worker-1  hostname   00000000-0000-4000-8000-000000000001  multinic0", line)
		default:
			t.Errorf("unexpected command %q", line)
		}
	}
}
