package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

// SPEC §8 defaults of the polling settings, used when a CR has none (or one
// that does not parse, while the ConfigError naming it is retried).
const (
	defaultPollFast   = 20 * time.Second
	defaultPollSlow   = 2 * time.Minute
	defaultPollError  = 30 * time.Second
	defaultFastWindow = 3 * time.Minute
	defaultResync     = 30 * time.Minute
	defaultFastMax    = 5
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

// durationBounds are the range a duration setting is clamped to at run
// time: the schema's range, applied again for values stored before the
// schema had it.
type durationBounds struct {
	min, max time.Duration
	zeroOff  bool // 0 is allowed and means "disabled"
}

var (
	pollBounds    = durationBounds{min: v1alpha1.MinPollInterval, max: v1alpha1.MaxPollInterval}
	timeoutBounds = durationBounds{min: v1alpha1.MinTimeout, max: v1alpha1.MaxTimeout}
	resyncBounds  = durationBounds{min: v1alpha1.MinResyncInterval, max: v1alpha1.MaxResyncInterval, zeroOff: true}
)

// durationSettings parses duration settings, remembering which did not
// parse so that one ConfigError can name them all.
type durationSettings struct{ bad []string }

// get returns the setting's value clamped to b, or fallback when it is
// unset or does not parse.
func (p *durationSettings) get(field string, d v1alpha1.Duration, fallback time.Duration, b durationBounds) time.Duration {
	if d == "" {
		return fallback
	}
	v, err := time.ParseDuration(string(d))
	if err != nil {
		p.bad = append(p.bad, fmt.Sprintf("spec.settings.%s %q is not a Go duration such as 30s or 1h30m", field, oneLine(string(d), 64)))
		return fallback
	}
	return b.clamp(v)
}

func (b durationBounds) clamp(v time.Duration) time.Duration {
	if v == 0 && b.zeroOff {
		return 0
	}
	return min(max(v, b.min), b.max)
}

// pollingOf resolves a CR's polling settings; the result is always usable
// (never zero, never below a second) even when the error names bad ones.
func pollingOf(set v1alpha1.Settings) (polling, []string) {
	var p durationSettings
	poll := polling{
		fast:                 p.get("pollFastInterval", set.PollFastInterval, defaultPollFast, pollBounds),
		slow:                 p.get("pollSlowInterval", set.PollSlowInterval, defaultPollSlow, pollBounds),
		errorInterval:        p.get("pollErrorInterval", set.PollErrorInterval, defaultPollError, pollBounds),
		fastWindow:           p.get("pollFastWindow", set.PollFastWindow, defaultFastWindow, pollBounds),
		resync:               p.get("resyncInterval", set.ResyncInterval, defaultResync, resyncBounds),
		downPortFastRetryMax: defaultFastMax,
	}
	if set.DownPortFastRetryMax != nil {
		poll.downPortFastRetryMax = min(max(*set.DownPortFastRetryMax, 0), 1000)
	}
	return poll, p.bad
}

// passTimeoutOf is the deadline of one pass of the CR.
func passTimeoutOf(set v1alpha1.Settings) time.Duration {
	var p durationSettings
	return p.get("passTimeout", set.PassTimeout, multinic.DefaultPassTimeout, timeoutBounds)
}

// syncConfig turns a CR into the library's Config. The API server already
// applied defaults and the schema; what is checked here are values stored
// before the schema had its rules, and what needs other objects (Secrets).
// The polling it returns is usable even with an error.
func (r *Reconciler) syncConfig(ctx context.Context, oc *v1alpha1.OpenstackConfig) (multinic.Config, polling, error) {
	cfg, poll, problems := specConfig(oc, r.Defaults)
	// The Secret is read even when something else is wrong, so that one
	// error lists every problem and one edit fixes them all.
	key, err := ResolveEncryptKey(ctx, r.APIReader, oc)
	if err != nil {
		if multinic.ReasonOf(err) != multinic.ReasonConfig {
			return multinic.Config{}, poll, err
		}
		problems = append(problems, strings.TrimPrefix(err.Error(), string(multinic.ReasonConfig)+": "))
	}
	if len(problems) > 0 {
		return multinic.Config{}, poll, configError("%s", strings.Join(problems, "; "))
	}
	cfg.EncryptKey = key.Value
	cfg.Inventory = r.Inventory
	cfg.Now = r.Clock.Now
	return cfg, poll, nil
}

// SpecConfig is the part of the CR-to-Config conversion that needs nothing
// but the CR and the operator's defaults: every field except EncryptKey,
// Inventory and Now. problems name each setting that is missing or does not
// parse, worded as the operator's ConfigError words them. Tools that run the
// flow outside the operator (multinicctl) use it, so they see a CR exactly
// as the operator does.
func SpecConfig(oc *v1alpha1.OpenstackConfig, defaults Defaults) (cfg multinic.Config, problems []string) {
	cfg, _, problems = specConfig(oc, defaults)
	return cfg, problems
}

func specConfig(oc *v1alpha1.OpenstackConfig, defaults Defaults) (multinic.Config, polling, []string) {
	spec, set := oc.Spec, oc.Spec.Settings
	poll, problems := pollingOf(set)
	var timeouts durationSettings
	contrabassOpts := defaults.Contrabass
	contrabassOpts.Endpoint = set.ContrabassEndpoint
	contrabassOpts.Timeout = timeouts.get("contrabassTimeout", set.ContrabassTimeout, contrabassOpts.Timeout, timeoutBounds)
	contrabassOpts.InsecureTLS = set.ContrabassInsecureTLS
	openstackOpts := defaults.OpenStack
	openstackOpts.Timeout = timeouts.get("openstackTimeout", set.OpenstackTimeout, openstackOpts.Timeout, timeoutBounds)
	openstackOpts.InsecureTLS = set.OpenstackInsecureTLS
	openstackOpts.EndpointInterface = set.OpenstackEndpointInterface
	openstackOpts.EndpointRegion = set.OpenstackEndpointRegion
	openstackOpts.NeutronEndpoint = set.OpenstackNeutronEndpoint
	openstackOpts.NovaEndpoint = set.OpenstackNovaEndpoint
	passTimeout := timeouts.get("passTimeout", set.PassTimeout, multinic.DefaultPassTimeout, timeoutBounds)
	problems = append(problems, timeouts.bad...)

	if set.ContrabassEndpoint == "" {
		problems = append(problems, "spec.settings.contrabassEndpoint is required")
	}
	violaOpts := defaults.Viola
	if set.ViolaEndpoint != "" {
		violaOpts.Endpoint = set.ViolaEndpoint
	}
	if violaOpts.Endpoint == "" {
		problems = append(problems, "no Viola endpoint: set spec.settings.violaEndpoint or the operator's VIOLA_ENDPOINT")
	}
	cfg := multinic.Config{
		ProviderID:          spec.Credentials.OpenstackProviderID,
		K8sProviderID:       spec.Credentials.K8sProviderID,
		ProjectID:           spec.Credentials.ProjectID,
		VMIDs:               spec.VMNames,
		SubnetIDs:           spec.SubnetIDs,
		SubnetID:            spec.SubnetID,
		SubnetName:          spec.SubnetName,
		Contrabass:          contrabassOpts,
		OpenStack:           openstackOpts,
		Viola:               violaOpts,
		NodeNameMetadataKey: set.OpenstackNodeNameMetadataKey,
		PortAllowedStatuses: set.OpenstackPortAllowedStatuses,
		PassTimeout:         passTimeout,
	}
	return cfg, poll, problems
}

// EncryptKey is a resolved Contrabass encrypt key and where it was found,
// e.g. "key CONTRABASS_ENCRYPT_KEY of Secret ns/contrabass-encrypt-key".
type EncryptKey struct {
	Value  string
	Source string
}

// ResolveEncryptKey finds the Contrabass key in SPEC order: the CR's Secret
// reference, the namespace's default Secret, then the CR's plain setting,
// reading Secrets through reader. Surrounding white space is dropped (a
// Secret made with --from-file ends in a newline) and the length is checked
// before any request is made. A ConfigError tells a Secret that does not
// exist from one without the key.
func ResolveEncryptKey(ctx context.Context, reader client.Reader, oc *v1alpha1.OpenstackConfig) (EncryptKey, error) {
	if ref := oc.Spec.Secrets.ContrabassEncryptKeySecretRef; ref != nil {
		// An explicit reference that does not resolve is an error rather
		// than a silent fall-through to a key the user did not choose.
		const field = "spec.secrets.contrabassEncryptKeySecretRef"
		key, problem, err := secretValue(ctx, reader, oc.Namespace, ref.Name, ref.Key)
		if err != nil {
			return EncryptKey{}, err
		}
		if problem != "" {
			return EncryptKey{}, configError("%s: %s", field, problem)
		}
		return checkedKey(key, fmt.Sprintf("%s: key %q of Secret %s/%s", field, ref.Key, oc.Namespace, ref.Name))
	}
	key, defaultProblem, err := secretValue(ctx, reader, oc.Namespace, DefaultEncryptKeySecret, DefaultEncryptKeyField)
	if err != nil {
		return EncryptKey{}, err
	}
	if defaultProblem == "" {
		return checkedKey(key, fmt.Sprintf("key %s of Secret %s/%s", DefaultEncryptKeyField, oc.Namespace, DefaultEncryptKeySecret))
	}
	if plain := strings.TrimSpace(oc.Spec.Settings.ContrabassEncryptKey); plain != "" {
		return checkedKey(plain, "spec.settings.contrabassEncryptKey")
	}
	return EncryptKey{}, configError("no Contrabass encrypt key: set spec.secrets.contrabassEncryptKeySecretRef, create Secret %s/%s with key %s (%s), or set spec.settings.contrabassEncryptKey",
		oc.Namespace, DefaultEncryptKeySecret, DefaultEncryptKeyField, defaultProblem)
}

// CheckEncryptKey is the check ResolveEncryptKey applies, for a key from
// elsewhere (a file): surrounding white space dropped, 16, 24 or 32 bytes.
func CheckEncryptKey(key, source string) (EncryptKey, error) {
	return checkedKey(strings.TrimSpace(key), source)
}

// checkedKey refuses a key AES cannot use, naming where it came from but
// never its value.
func checkedKey(key, source string) (EncryptKey, error) {
	if contrabass.ValidKeyLength(len(key)) {
		return EncryptKey{Value: key, Source: source}, nil
	}
	return EncryptKey{}, configError("%s is %d bytes long; the Contrabass encrypt key must be 16, 24 or 32 bytes (AES-128/192/256)", source, len(key))
}

// secretValue reads one key of a Secret, trimmed. problem says why there is
// no value (no such Secret, no such key, an empty key); err is a failure to
// read at all.
func secretValue(ctx context.Context, reader client.Reader, namespace, name, key string) (value, problem string, err error) {
	var secret corev1.Secret
	err = reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &secret)
	if apierrors.IsNotFound(err) {
		return "", fmt.Sprintf("Secret %s/%s does not exist", namespace, name), nil
	}
	if err != nil {
		return "", "", configError("read Secret %s/%s: %w", namespace, name, err)
	}
	raw, ok := secret.Data[key]
	if !ok {
		return "", fmt.Sprintf("Secret %s/%s has no key %q (it has %s)", namespace, name, key, keyNames(secret.Data)), nil
	}
	value = strings.TrimSpace(string(raw))
	if value == "" {
		return "", fmt.Sprintf("key %q of Secret %s/%s is empty", key, namespace, name), nil
	}
	return value, "", nil
}

// keyNames lists a Secret's key names (never values) for an error message.
func keyNames(data map[string][]byte) string {
	if len(data) == 0 {
		return "no keys"
	}
	names := make([]string, 0, len(data))
	for k := range data {
		names = append(names, fmt.Sprintf("%q", k))
	}
	slices.Sort(names)
	const shown = 10
	if len(names) > shown {
		return fmt.Sprintf("%s and %d more", strings.Join(names[:shown], ", "), len(names)-shown)
	}
	return strings.Join(names, ", ")
}
