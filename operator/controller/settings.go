package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/viola"
)

// Default Secret holding the Contrabass encrypt key when the CR names none.
const (
	DefaultEncryptKeySecret = "contrabass-encrypt-key"
	DefaultEncryptKeyField  = "CONTRABASS_ENCRYPT_KEY"
)

// Defaults are the operator-wide client settings; a CR overrides the fields
// it has (endpoints, timeouts, TLS) and keeps the rest (retries, transports).
type Defaults struct {
	Contrabass contrabass.Options
	OpenStack  openstack.Options
	Viola      viola.Options
}

// configError marks a problem with the CR or its Secrets.
func configError(format string, args ...any) error {
	return &multinic.Error{Reason: multinic.ReasonConfig, Err: fmt.Errorf(format, args...)}
}

// syncConfig turns a CR into the library's Config. The API server already
// applied defaults and patterns; what is checked here needs other objects.
func (r *Reconciler) syncConfig(ctx context.Context, oc *v1alpha1.OpenstackConfig) (multinic.Config, polling, error) {
	spec, set := oc.Spec, oc.Spec.Settings
	poll := polling{
		fast:                 duration(set.PollFastInterval, 20*time.Second),
		slow:                 duration(set.PollSlowInterval, 2*time.Minute),
		errorInterval:        duration(set.PollErrorInterval, 30*time.Second),
		fastWindow:           duration(set.PollFastWindow, 3*time.Minute),
		resync:               duration(set.ResyncInterval, 30*time.Minute),
		downPortFastRetryMax: 5,
	}
	if set.DownPortFastRetryMax != nil {
		poll.downPortFastRetryMax = *set.DownPortFastRetryMax
	}
	if set.ContrabassEndpoint == "" {
		return multinic.Config{}, poll, configError("spec.settings.contrabassEndpoint is required")
	}
	key, err := r.encryptKey(ctx, oc)
	if err != nil {
		return multinic.Config{}, poll, err
	}
	violaOpts := r.Defaults.Viola
	if set.ViolaEndpoint != "" {
		violaOpts.Endpoint = set.ViolaEndpoint
	}
	if violaOpts.Endpoint == "" {
		return multinic.Config{}, poll, configError("no Viola endpoint: set spec.settings.violaEndpoint or the operator's VIOLA_ENDPOINT")
	}
	contrabassOpts := r.Defaults.Contrabass
	contrabassOpts.Endpoint = set.ContrabassEndpoint
	contrabassOpts.Timeout = duration(set.ContrabassTimeout, contrabassOpts.Timeout)
	contrabassOpts.InsecureTLS = set.ContrabassInsecureTLS
	openstackOpts := r.Defaults.OpenStack
	openstackOpts.Timeout = duration(set.OpenstackTimeout, openstackOpts.Timeout)
	openstackOpts.InsecureTLS = set.OpenstackInsecureTLS
	openstackOpts.EndpointInterface = set.OpenstackEndpointInterface
	openstackOpts.EndpointRegion = set.OpenstackEndpointRegion
	openstackOpts.NeutronEndpoint = set.OpenstackNeutronEndpoint
	openstackOpts.NovaEndpoint = set.OpenstackNovaEndpoint
	cfg := multinic.Config{
		ProviderID:          spec.Credentials.OpenstackProviderID,
		K8sProviderID:       spec.Credentials.K8sProviderID,
		ProjectID:           spec.Credentials.ProjectID,
		VMIDs:               spec.VMNames,
		SubnetIDs:           spec.SubnetIDs,
		SubnetID:            spec.SubnetID,
		SubnetName:          spec.SubnetName,
		EncryptKey:          key,
		Contrabass:          contrabassOpts,
		OpenStack:           openstackOpts,
		Viola:               violaOpts,
		NodeNameMetadataKey: set.OpenstackNodeNameMetadataKey,
		PortAllowedStatuses: set.OpenstackPortAllowedStatuses,
		Inventory:           r.Inventory,
		Now:                 r.Clock.Now,
	}
	return cfg, poll, nil
}

func duration(d *metav1.Duration, fallback time.Duration) time.Duration {
	if d == nil {
		return fallback
	}
	return d.Duration
}

// encryptKey resolves the Contrabass key in SPEC order: the CR's Secret
// reference, the namespace's default Secret, then the CR's plain setting.
func (r *Reconciler) encryptKey(ctx context.Context, oc *v1alpha1.OpenstackConfig) (string, error) {
	if ref := oc.Spec.Secrets.ContrabassEncryptKeySecretRef; ref != nil {
		// An explicit reference that does not resolve is an error rather
		// than a silent fall-through to a key the user did not choose.
		key, found, err := r.secretValue(ctx, oc.Namespace, ref.Name, ref.Key)
		if err != nil {
			return "", err
		}
		if !found {
			return "", configError("spec.secrets.contrabassEncryptKeySecretRef: Secret %s/%s has no non-empty key %q", oc.Namespace, ref.Name, ref.Key)
		}
		return key, nil
	}
	key, found, err := r.secretValue(ctx, oc.Namespace, DefaultEncryptKeySecret, DefaultEncryptKeyField)
	if err != nil {
		return "", err
	}
	if found {
		return key, nil
	}
	if oc.Spec.Settings.ContrabassEncryptKey != "" {
		return oc.Spec.Settings.ContrabassEncryptKey, nil
	}
	return "", configError("no Contrabass encrypt key: set spec.secrets.contrabassEncryptKeySecretRef, create Secret %s/%s with key %s, or set spec.settings.contrabassEncryptKey",
		oc.Namespace, DefaultEncryptKeySecret, DefaultEncryptKeyField)
}

func (r *Reconciler) secretValue(ctx context.Context, namespace, name, key string) (string, bool, error) {
	var secret corev1.Secret
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &secret)
	if apierrors.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, configError("read Secret %s/%s: %v", namespace, name, err)
	}
	value := string(secret.Data[key])
	return value, value != "", nil
}
