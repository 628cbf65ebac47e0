package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/crconfig"
)

// polling is a CR's polling settings, with the schedule they make.
type polling crconfig.Polling

// downPortResend returns the nodes whose DOWN ports are due for another
// send, and whether every node is to be sent because more nodes have DOWN
// ports than the state lists. The first send is due at once; then every
// fast interval for downPortFastRetryMax attempts, then every slow interval.
func (p polling) downPortResend(state *v1alpha1.DownPortRetry, now time.Time) (nodes []string, all bool) {
	if state == nil || (len(state.Nodes) == 0 && state.MoreNodes == 0) {
		return nil, false
	}
	if !now.Before(p.downPortDue(state)) {
		return state.Nodes, state.MoreNodes > 0
	}
	return nil, false
}

// downPortDue is when the next send of the DOWN-port nodes is due.
func (p polling) downPortDue(state *v1alpha1.DownPortRetry) time.Time {
	if state.LastAttempt == nil {
		return time.Time{} // seen DOWN, not sent since: due now
	}
	interval := p.Slow
	if state.FastAttempts < p.DownPortFastRetryMax {
		interval = p.Fast
	}
	return state.LastAttempt.Add(interval)
}

// nextDownPortState folds one pass into the DOWN-port state. The count
// restarts whenever the set of DOWN ports changes, and the state clears when
// no port is DOWN. resent says the pass was asked to re-send the listed
// nodes and succeeded; a pass that sent every DOWN node anyway (a change, a
// resync) counts as a send too. The first send after the set changes is the
// "at once" send of SPEC §8, not one of the fast retries.
func nextDownPortState(prev *v1alpha1.DownPortRetry, res multinic.Result, resent bool, now time.Time) *v1alpha1.DownPortRetry {
	if len(res.DownPorts) == 0 {
		return nil
	}
	downNodes := res.DownNodes()
	sent := containsAll(res.Sent, downNodes)
	var next *v1alpha1.DownPortRetry
	if hash := downPortsHash(res.DownPorts); prev == nil || prev.Hash != hash {
		next = &v1alpha1.DownPortRetry{Hash: hash}
	} else {
		// The re-send covered this very set; a node Viola was not sent
		// (left out as invalid) must not make the send due again at once.
		sent = sent || resent
		next = prev.DeepCopy()
		if sent && next.LastAttempt != nil {
			next.FastAttempts++
		}
	}
	if sent {
		at := metav1.NewTime(now)
		next.LastAttempt = &at
	}
	// Names are kept current (a node can be renamed while its ports stay
	// DOWN) and bounded, so the status write always fits.
	shown := min(len(downNodes), v1alpha1.MaxDownPortNodes)
	next.Nodes, next.MoreNodes = downNodes[:shown], int32(len(downNodes)-shown)
	return next
}

func containsAll(set, want []string) bool {
	have := make(map[string]bool, len(set))
	for _, s := range set {
		have[s] = true
	}
	for _, w := range want {
		if !have[w] {
			return false
		}
	}
	return true
}

func downPortsHash(ports []multinic.DownPort) string {
	keys := make([]string, len(ports))
	for i, p := range ports {
		keys[i] = p.InstanceID + "/" + p.PortID
	}
	slices.Sort(keys)
	sum := sha256.Sum256([]byte(strings.Join(keys, ",")))
	return hex.EncodeToString(sum[:8])
}

// requeueAfter picks the next poll: the error interval after a failure, the
// fast interval within the fast window after a pass that sent something, the
// slow interval otherwise, and never later than a due DOWN-port re-send, nor
// (while ports are held DOWN) than the fast interval or the end of a grace
// period. It is never below a second, whatever the settings say.
func (p polling) requeueAfter(status *v1alpha1.OpenstackConfigStatus, failed bool, now time.Time) time.Duration {
	if failed {
		return max(p.Error, minRequeue)
	}
	after := p.Slow
	if status.LastChangeAt != nil && now.Before(status.LastChangeAt.Add(p.FastWindow)) {
		after = p.Fast
	}
	if state := status.DownPortRetry; state != nil {
		after = min(after, p.downPortDue(state).Sub(now))
	}
	if held, ok := p.nextHeldDue(status, now); ok {
		after = min(after, held)
	}
	return max(after, minRequeue)
}

// minRequeue keeps a CR from hot-looping against its dependencies.
const minRequeue = time.Second

// resyncDue reports whether every node should be re-sent so that drift on
// the Biz side heals.
func (p polling) resyncDue(status *v1alpha1.OpenstackConfigStatus, now time.Time) bool {
	return p.Resync > 0 && (status.LastResyncAt == nil || !now.Before(status.LastResyncAt.Add(p.Resync)))
}
