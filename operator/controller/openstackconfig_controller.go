// Package controller reconciles OpenstackConfig objects by running one pass
// of the multinic library per reconcile and recording the outcome in status.
package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/multinic/multinic/internal/safetext"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/crconfig"
)

// Finalizer lets the operator drop a CR's inventory records before it goes.
const Finalizer = "multinic.example.com/inventory"

// Syncer runs one pass of the flow; *multinic.Syncer is the operator's.
type Syncer interface {
	Sync(ctx context.Context, cfg multinic.Config) (multinic.Result, error)
}

// Reconciler runs the multinic flow for each OpenstackConfig.
type Reconciler struct {
	Client client.Client
	// APIReader reads Secrets straight from the API server, so their
	// contents are never held in the informer cache.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Syncer    Syncer
	Inventory multinic.Inventory
	Defaults  crconfig.Defaults
	Clock     clock.PassiveClock
	Metrics   *Metrics
	// MaxConcurrentReconciles lets several CRs sync at once; one when zero.
	MaxConcurrentReconciles int

	// routingKeyIndexed says Client's cache indexes CRs by routing key
	// (SetupWithManager adds the index; a Reconciler used without a
	// manager lists every CR).
	routingKeyIndexed bool
}

// +kubebuilder:rbac:groups=multinic.example.com,resources=openstackconfigs,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=multinic.example.com,resources=openstackconfigs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=multinic.example.com,resources=openstackconfigs/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile runs one pass for the CR and schedules the next.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	logger := log.FromContext(ctx)
	var oc v1alpha1.OpenstackConfig
	if err := r.Client.Get(ctx, req.NamespacedName, &oc); err != nil {
		if apierrors.IsNotFound(err) {
			r.Metrics.forget(req.Namespace, req.Name)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !oc.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, r.finalize(ctx, &oc)
	}
	// Finalizers are patched, never updated with the whole object: a spec
	// value stored before a schema rule existed must not fail the write.
	if orig := oc.DeepCopy(); controllerutil.AddFinalizer(&oc, Finalizer) {
		if err := r.Client.Patch(ctx, &oc, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
			if apierrors.IsInvalid(err) {
				return r.writeRefused(ctx, orig, "finalizer", err), nil
			}
			return reconcile.Result{}, err
		}
	}

	r.Metrics.observeConfig(&oc)
	now := r.Clock.Now()
	status := oc.Status.DeepCopy()
	// The pass deadline bounds the Secret reads as well as the library's
	// pass, so one CR cannot hold a worker for minutes.
	passTimeout := crconfig.PassTimeout(oc.Spec.Settings)
	passCtx, cancel := context.WithTimeout(ctx, passTimeout)
	defer cancel()
	start := time.Now()
	cfg, poll, err := r.syncConfig(passCtx, &oc)
	var res multinic.Result
	resynced, resent := false, false
	if err == nil {
		var all bool
		cfg.Resend, all = poll.downPortResend(status.DownPortRetry, now)
		cfg.ResendAll = all || poll.resyncDue(status, now)
		cfg.DownPortsFirstSeen = firstSeenDown(status.HeldPorts)
		r.shareInventory(ctx, &oc, &cfg)
		res, err = r.Syncer.Sync(passCtx, cfg)
		if err != nil && passCtx.Err() != nil && ctx.Err() == nil {
			err = deadlineError(err, passTimeout)
		}
		resynced = cfg.ResendAll && err == nil
		resent = (len(cfg.Resend) > 0 || all) && err == nil
	}
	// Config errors count too: a CR stuck on a missing Secret is a failing CR.
	r.Metrics.observePass(&oc, time.Since(start), res, err)

	status.ObservedGeneration = oc.Generation
	if err != nil {
		reason := multinic.ReasonOf(err)
		if reason == "" {
			reason = multinic.ReasonInternal
		}
		msg := brief(crconfig.Message(err))
		logger.Error(boundedError(msg), string(reason), "reason", reason)
		if status.LastError != msg {
			r.Recorder.Eventf(&oc, nil, corev1.EventTypeWarning, string(reason), "Sync", "%s", msg)
		}
		status.LastError = msg
		setFailed(status, string(reason), msg, oc.Generation)
	} else {
		r.recordPass(ctx, &oc, status, res, resynced, resent, now)
	}
	if !statusWriteNeeded(&oc.Status, status, poll.FastWindow, now) {
		return reconcile.Result{RequeueAfter: poll.requeueAfter(status, err != nil, now)}, nil
	}
	if err := r.writeStatus(ctx, req.NamespacedName, status); err != nil {
		if apierrors.IsInvalid(err) {
			return r.writeRefused(ctx, &oc, "status", err), nil
		}
		return reconcile.Result{}, err
	}
	return reconcile.Result{RequeueAfter: poll.requeueAfter(status, err != nil, now)}, nil
}

// writeRefused reports a write of oc (its status, or the finalizer) that the
// API server refused as invalid. The refusal is about the object as it is
// stored, e.g. a spec value a rule without ratcheting refuses (the CRD's own
// rules ratchet), so writing again at once gets the same answer: returned
// as an error it would loop in controller-runtime's back-off, logging
// "Reconciler error" and telling the CR's owner nothing. It is reported
// where the owner looks instead, as an event and a log line naming the
// field, and the CR comes back at its error interval.
func (r *Reconciler) writeRefused(ctx context.Context, oc *v1alpha1.OpenstackConfig, what string, err error) reconcile.Result {
	poll, _ := crconfig.PollingOf(oc.Spec.Settings)
	msg := brief(fmt.Sprintf("the API server refused the %s write of this OpenstackConfig; fix the field it names (kubectl edit): %s",
		what, safetext.Mask(err.Error(), oc.Spec.Settings.ContrabassEncryptKey)))
	log.FromContext(ctx).Error(boundedError(msg), "write refused", "write", what)
	r.Recorder.Eventf(oc, nil, corev1.EventTypeWarning, reasonStatusRefused, "Sync", "%s", msg)
	return reconcile.Result{RequeueAfter: poll.Error}
}

// reasonStatusRefused is the event reason of a refused status or finalizer
// write.
const reasonStatusRefused = "StatusRefused"

// recordPass writes a completed pass into status, events and logs.
func (r *Reconciler) recordPass(ctx context.Context, oc *v1alpha1.OpenstackConfig, status *v1alpha1.OpenstackConfigStatus, res multinic.Result, resynced, resent bool, now time.Time) {
	logger := log.FromContext(ctx)
	status.LastError = ""
	status.LastSyncedAt = ptrTime(now)
	status.Nodes = int32(len(res.Nodes))
	notes := partialResult(status, res)
	status.DownPortRetry = nextDownPortState(status.DownPortRetry, res, resent, now)
	status.HeldPorts = heldPorts(res.HeldPorts)
	if len(res.HeldPorts) > len(status.HeldPorts) {
		notes = append(notes, fmt.Sprintf("status.heldPorts lists %d of %d held DOWN ports", len(status.HeldPorts), len(res.HeldPorts)))
	}
	sent := make(map[string]bool, len(res.Nodes))
	for _, n := range res.Nodes {
		sent[n.NodeName] = true
	}
	status.RemovedNodes = mergeRemovals(status.RemovedNodes, res.RemovedNodes, sent, now)
	status.OrphanedNodes = mergeRemovals(status.OrphanedNodes, res.OrphanedNodes, sent, now)
	r.recordRemovals(oc, res, multinic.RemovalPolicy(oc.Spec.Settings.RemovalPolicy))
	if len(res.RemovalFailures) > 0 {
		f := res.RemovalFailures[0]
		notes = append(notes, fmt.Sprintf("removing %s failed (tried again next pass): %s", f.NodeName, f.Detail))
	}
	if resynced {
		status.LastResyncAt = ptrTime(now)
	}
	if len(res.Sent) > 0 {
		// Any send (a change, a DOWN-port re-send, a resync) may need the
		// agent's answer soon: poll fast for a while (SPEC §8).
		status.LastChangeAt = ptrTime(now)
	}
	if res.RemoveErr != nil {
		logger.Error(boundedError(brief(crconfig.Message(res.RemoveErr))), "prune inventory") // removed next pass
	}
	if len(res.RemovedNodes)+len(res.OrphanedNodes) > 0 {
		logger.Info("let nodes go", "removalPolicy", oc.Spec.Settings.RemovalPolicy, "removed", len(res.RemovedNodes), "orphaned", len(res.OrphanedNodes))
	}

	degradation := res.Degradation()
	if degradation != "" {
		degradation = strings.Join(append([]string{degradation}, notes...), "; ")
		if prev := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionDegraded); prev == nil || prev.Reason != v1alpha1.ReasonPartialSync || prev.Message != brief(degradation) {
			r.Recorder.Eventf(oc, nil, corev1.EventTypeWarning, v1alpha1.ReasonPartialSync, "Sync", "%s", brief(degradation))
		}
		logger.Info("pass left things out", "degraded", degradation, "skippedVMs", len(res.Skipped), "droppedPorts", len(res.DroppedPorts),
			"skippedSubnets", len(res.SkippedSubnets), "rejectedNodes", len(res.RejectedNodes),
			"leftOutAddresses", len(res.LeftOutAddresses), "nodeNameWarnings", len(res.NodeNameWarnings))
	}
	if len(res.Changed) > 0 {
		msg := fmt.Sprintf("synced %d node configs to viola (%d re-sent, %d unchanged)", len(res.Changed), len(res.Sent)-len(res.Changed), len(res.Unchanged))
		logger.Info("synced node configs to viola", "changed", head(res.Changed), "sent", len(res.Sent), "unchanged", len(res.Unchanged), "downPorts", len(res.DownPorts), "skipped", len(res.Skipped))
		r.Recorder.Eventf(oc, nil, corev1.EventTypeNormal, v1alpha1.ReasonSynced, "Sync", "%s", msg)
		setCompleted(status, v1alpha1.ReasonSynced, msg, degradation, oc.Generation)
		return
	}
	// Re-sends of unchanged nodes (DOWN ports, periodic resync) are
	// maintenance, not news: logged, but no event.
	msg := fmt.Sprintf("%d node configs unchanged", len(res.Nodes))
	if len(res.Sent) > 0 {
		msg += fmt.Sprintf(" (%d re-sent)", len(res.Sent))
		logger.Info("re-sent unchanged node configs to viola", "sent", head(res.Sent), "resync", resynced, "downPorts", len(res.DownPorts))
	}
	logger.Info("no changes detected", "nodes", len(res.Nodes), "skipped", len(res.Skipped))
	setCompleted(status, v1alpha1.ReasonNoChange, msg, degradation, oc.Generation)
}

// head keeps log lines short on large fleets: the first names and a count.
func head(names []string) []string {
	const shown = 20
	if len(names) <= shown {
		return names
	}
	return append(slices.Clip(names[:shown]), fmt.Sprintf("and %d more", len(names)-shown))
}

// deadlineError says that the pass ran out of time and which setting bounds
// it, keeping the reason of the step that was cut short.
func deadlineError(err error, timeout time.Duration) error {
	e := (*multinic.Error)(nil)
	if !errors.As(err, &e) {
		e = &multinic.Error{Reason: multinic.ReasonInternal, Err: err}
	}
	if e.Kind == multinic.KindDeadline {
		return err // the library's own deadline (Config.PassTimeout) said so already
	}
	return &multinic.Error{Reason: e.Reason, Kind: multinic.KindDeadline, Setting: multinic.SettingPassTimeout, Err: renderedError{
		text:  fmt.Sprintf("pass did not finish within %s (%s): %s", crconfig.Names.Of(multinic.SettingPassTimeout), timeout, e.Detail(crconfig.Names)),
		cause: err,
	}}
}

// renderedError is a message already in the CR's terms, over its cause.
type renderedError struct {
	text  string
	cause error
}

func (e renderedError) Error() string { return e.text }
func (e renderedError) Unwrap() error { return e.cause }

func ptrTime(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}

// statusWriteNeeded tells whether next must be written over stored. Every
// change is written at once, except lastSyncedAt alone: a pass that changes
// nothing else refreshes it only when the stored time is at least a fast
// window old. Without that, every poll of every CR would be a write to the
// API server (and an event to every watcher) that says nothing new; with it
// a CR that keeps polling writes at most once per fast window, and
// lastSyncedAt is never older than the fast window plus the slow interval
// while passes succeed. The exact time of the last successful pass is in the
// multinic_openstackconfig_last_sync_timestamp_seconds metric, and Ready,
// reasons and messages are always current because they are not the
// timestamp.
func statusWriteNeeded(stored, next *v1alpha1.OpenstackConfigStatus, fastWindow time.Duration, now time.Time) bool {
	if stored.LastSyncedAt != nil && next.LastSyncedAt != nil && now.Sub(stored.LastSyncedAt.Time) < fastWindow {
		unchanged := next.DeepCopy()
		unchanged.LastSyncedAt = stored.LastSyncedAt
		next = unchanged
	}
	return !equality.Semantic.DeepEqual(stored, next)
}

// writeStatus replaces the status on the latest version of the object, so a
// concurrent spec edit does not fail the pass.
func (r *Reconciler) writeStatus(ctx context.Context, key types.NamespacedName, status *v1alpha1.OpenstackConfigStatus) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var latest v1alpha1.OpenstackConfig
		if err := r.Client.Get(ctx, key, &latest); err != nil {
			return client.IgnoreNotFound(err)
		}
		latest.Status = *status
		return r.Client.Status().Update(ctx, &latest)
	})
}

// SetupWithManager registers the controller. Secrets are watched by metadata
// only: a change to a referenced Secret triggers a reconcile of its CRs.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.OpenstackConfig{}, routingKeyField, indexRoutingKey); err != nil {
		return fmt.Errorf("index OpenstackConfigs by routing key: %w", err)
	}
	r.routingKeyIndexed = true
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.OpenstackConfig{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.configsUsingSecret), builder.WithPredicates(secretChanged)).
		Named("openstackconfig").
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.MaxConcurrentReconciles, 1)}).
		Complete(r)
}

// secretChanged passes every Secret event except those of the informer's
// first list: at start every CR is reconciled for itself, and mapping each
// existing Secret to its CRs as well gave CRs a second pass at start.
var secretChanged = predicate.Funcs{CreateFunc: func(e event.CreateEvent) bool { return !e.IsInInitialList }}

// configsUsingSecret maps a Secret to the CRs in its namespace that read it
// (for the encrypt key or the Contrabass bearer token).
func (r *Reconciler) configsUsingSecret(ctx context.Context, secret client.Object) []reconcile.Request {
	var list v1alpha1.OpenstackConfigList
	if err := r.Client.List(ctx, &list, client.InNamespace(secret.GetNamespace())); err != nil {
		log.FromContext(ctx).Error(err, "list OpenstackConfigs for Secret", "secret", secret.GetName())
		return nil
	}
	var reqs []reconcile.Request
	for _, oc := range list.Items {
		name := crconfig.DefaultEncryptKeySecret
		if ref := oc.Spec.Secrets.ContrabassEncryptKeySecretRef; ref != nil {
			name = ref.Name
		}
		token := oc.Spec.Secrets.ContrabassBearerTokenSecretRef
		if name == secret.GetName() || (token != nil && token.Name == secret.GetName()) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&oc)})
		}
	}
	return reqs
}
