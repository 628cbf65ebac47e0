// Package controller reconciles OpenstackConfig objects by running one pass
// of the multinic library per reconcile and recording the outcome in status.
package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
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
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// Finalizer lets the operator drop a CR's inventory records before it goes.
const Finalizer = "multinic.example.com/inventory"

// Reconciler runs the multinic flow for each OpenstackConfig.
type Reconciler struct {
	Client client.Client
	// APIReader reads Secrets straight from the API server, so their
	// contents are never held in the informer cache.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Syncer    *multinic.Syncer
	Inventory Inventory
	Defaults  Defaults
	Clock     clock.PassiveClock
	Metrics   *Metrics
	// MaxConcurrentReconciles lets several CRs sync at once; one when zero.
	MaxConcurrentReconciles int
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
	if controllerutil.AddFinalizer(&oc, Finalizer) {
		if err := r.Client.Update(ctx, &oc); err != nil {
			return reconcile.Result{}, err
		}
	}

	r.Metrics.observeConfig(&oc)
	now := r.Clock.Now()
	status := oc.Status.DeepCopy()
	cfg, poll, err := r.syncConfig(ctx, &oc)
	var res multinic.Result
	resynced, resent := false, false
	if err == nil {
		cfg.Resend = poll.downPortResend(status.DownPortRetry, now)
		cfg.ResendAll = poll.resyncDue(status, now)
		start := time.Now()
		res, err = r.Syncer.Sync(ctx, cfg)
		r.Metrics.observePass(&oc, time.Since(start), res, err)
		resynced = cfg.ResendAll && err == nil
		resent = len(cfg.Resend) > 0 && err == nil
	}

	status.ObservedGeneration = oc.Generation
	if err != nil {
		reason := multinic.ReasonOf(err)
		if reason == "" {
			reason = "InternalError"
		}
		logger.Error(err, string(reason), "reason", reason)
		if status.LastError != err.Error() {
			r.Recorder.Eventf(&oc, nil, corev1.EventTypeWarning, string(reason), "Sync", "%s", err.Error())
		}
		status.LastError = err.Error()
		setReady(status, metav1.ConditionFalse, string(reason), err.Error(), oc.Generation)
	} else {
		status.LastError = ""
		status.LastSyncedAt = ptrTime(now)
		status.Nodes = int32(len(res.Nodes))
		status.SkippedVMs = skipped(res.Skipped)
		status.DroppedPorts = dropped(res.DroppedPorts)
		if len(res.DroppedPorts) > 0 {
			logger.Info("ports beyond multinic9 are not configured", "droppedPorts", len(res.DroppedPorts))
		}
		status.DownPortRetry = nextDownPortState(status.DownPortRetry, res, resent, now)
		if resynced {
			status.LastResyncAt = ptrTime(now)
		}
		if pruned, err := r.pruneInventory(ctx, &oc, res); err != nil {
			logger.Error(err, "prune inventory") // the records are rebuilt or pruned next pass
		} else if pruned > 0 {
			logger.Info("removed inventory records of VMs no longer in the config", "records", pruned)
		}
		switch {
		case len(res.Changed) > 0:
			status.LastChangeAt = ptrTime(now)
			msg := fmt.Sprintf("synced %d node configs to viola (%d re-sent, %d unchanged)", len(res.Changed), len(res.Sent)-len(res.Changed), len(res.Unchanged))
			logger.Info("synced node configs to viola", "changed", res.Changed, "sent", len(res.Sent), "unchanged", len(res.Unchanged), "downPorts", len(res.DownPorts), "skipped", len(res.Skipped))
			r.Recorder.Eventf(&oc, nil, corev1.EventTypeNormal, v1alpha1.ReasonSynced, "Sync", "%s", msg)
			setReady(status, metav1.ConditionTrue, v1alpha1.ReasonSynced, msg, oc.Generation)
		default:
			// Re-sends of unchanged nodes (DOWN ports, periodic resync) are
			// maintenance, not news: logged, but no event and no fast polling.
			if len(res.Sent) > 0 {
				logger.Info("re-sent unchanged node configs to viola", "sent", res.Sent, "resync", resynced, "downPorts", len(res.DownPorts))
			}
			logger.Info("no changes detected", "nodes", len(res.Nodes), "skipped", len(res.Skipped))
			setReady(status, metav1.ConditionTrue, v1alpha1.ReasonNoChange, fmt.Sprintf("%d node configs unchanged", len(res.Nodes)), oc.Generation)
		}
	}
	if err := r.writeStatus(ctx, req.NamespacedName, status); err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{RequeueAfter: poll.requeueAfter(status, err != nil, now)}, nil
}

func ptrTime(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}

func skipped(vms []multinic.SkippedVM) []v1alpha1.SkippedVM {
	var out []v1alpha1.SkippedVM
	for _, vm := range vms {
		out = append(out, v1alpha1.SkippedVM{InstanceID: vm.InstanceID, NodeName: vm.NodeName, Reason: vm.Reason})
	}
	return out
}

func dropped(ports []multinic.DroppedPort) []v1alpha1.DroppedPort {
	var out []v1alpha1.DroppedPort
	for _, p := range ports {
		out = append(out, v1alpha1.DroppedPort{InstanceID: p.InstanceID, PortID: p.PortID, MACAddress: p.MACAddress})
	}
	return out
}

// setReady writes Ready and its mirror Degraded.
func setReady(status *v1alpha1.OpenstackConfigStatus, ready metav1.ConditionStatus, reason, message string, generation int64) {
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady, Status: ready, Reason: reason, Message: message, ObservedGeneration: generation})
	degraded := metav1.ConditionFalse
	if ready == metav1.ConditionFalse {
		degraded = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: v1alpha1.ConditionDegraded, Status: degraded, Reason: reason, Message: message, ObservedGeneration: generation})
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
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.OpenstackConfig{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.configsUsingSecret)).
		Named("openstackconfig").
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.MaxConcurrentReconciles, 1)}).
		Complete(r)
}

// configsUsingSecret maps a Secret to the CRs in its namespace that read it.
func (r *Reconciler) configsUsingSecret(ctx context.Context, secret client.Object) []reconcile.Request {
	var list v1alpha1.OpenstackConfigList
	if err := r.Client.List(ctx, &list, client.InNamespace(secret.GetNamespace())); err != nil {
		log.FromContext(ctx).Error(err, "list OpenstackConfigs for Secret", "secret", secret.GetName())
		return nil
	}
	var reqs []reconcile.Request
	for _, oc := range list.Items {
		name := DefaultEncryptKeySecret
		if ref := oc.Spec.Secrets.ContrabassEncryptKeySecretRef; ref != nil {
			name = ref.Name
		}
		if name == secret.GetName() {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&oc)})
		}
	}
	return reqs
}
