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
)

// polling holds the resolved polling settings of one CR.
type polling struct {
	fast, slow, errorInterval, fastWindow, resync time.Duration
	downPortFastRetryMax                          int32
}

// downPortResend returns the nodes whose DOWN ports are due for another
// send: every fast interval for the first downPortFastRetryMax attempts,
// then every slow interval.
func (p polling) downPortResend(state *v1alpha1.DownPortRetry, now time.Time) []string {
	if state == nil || len(state.Nodes) == 0 {
		return nil
	}
	if state.LastAttempt == nil || !now.Before(state.LastAttempt.Add(p.downPortInterval(state))) {
		return state.Nodes
	}
	return nil
}

func (p polling) downPortInterval(state *v1alpha1.DownPortRetry) time.Duration {
	if state.FastAttempts < p.downPortFastRetryMax {
		return p.fast
	}
	return p.slow
}

// nextDownPortState folds one pass into the DOWN-port state. The count
// restarts whenever the set of DOWN ports changes, and the state clears when
// no port is DOWN.
func nextDownPortState(prev *v1alpha1.DownPortRetry, res multinic.Result, resent bool, now time.Time) *v1alpha1.DownPortRetry {
	if len(res.DownPorts) == 0 {
		return nil
	}
	hash := downPortsHash(res.DownPorts)
	at := metav1.NewTime(now)
	if prev == nil || prev.Hash != hash {
		return &v1alpha1.DownPortRetry{Hash: hash, Nodes: res.DownNodes(), LastAttempt: &at}
	}
	next := prev.DeepCopy()
	if resent {
		next.FastAttempts++
		next.LastAttempt = &at
	}
	return next
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
// fast interval within the fast window after a change, the slow interval
// otherwise, and never later than a due DOWN-port re-send.
func (p polling) requeueAfter(status *v1alpha1.OpenstackConfigStatus, failed bool, now time.Time) time.Duration {
	if failed {
		return p.errorInterval
	}
	after := p.slow
	if status.LastChangeAt != nil && now.Before(status.LastChangeAt.Add(p.fastWindow)) {
		after = p.fast
	}
	if state := status.DownPortRetry; state != nil && state.LastAttempt != nil {
		due := state.LastAttempt.Add(p.downPortInterval(state)).Sub(now)
		after = min(after, max(due, time.Second))
	}
	return after
}

// resyncDue reports whether every node should be re-sent so that drift on
// the Biz side heals.
func (p polling) resyncDue(status *v1alpha1.OpenstackConfigStatus, now time.Time) bool {
	return p.resync > 0 && (status.LastResyncAt == nil || !now.Before(status.LastResyncAt.Add(p.resync)))
}
