package crconfig

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// Default Secret holding the Contrabass encrypt key when the CR names none.
const (
	DefaultEncryptKeySecret = "contrabass-encrypt-key"
	DefaultEncryptKeyField  = "CONTRABASS_ENCRYPT_KEY"
)

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
			return EncryptKey{}, keyError(multinic.KindMissing, "%s: %s", field, problem)
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
	return EncryptKey{}, keyError(multinic.KindMissing, "no Contrabass encrypt key: set spec.secrets.contrabassEncryptKeySecretRef, create Secret %s/%s with key %s (%s), or set spec.settings.contrabassEncryptKey",
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
	return EncryptKey{}, keyError(multinic.KindInvalid, "%s is %d bytes long; the Contrabass encrypt key must be 16, 24 or 32 bytes (AES-128/192/256)", source, len(key))
}

// keyError is a ConfigError about the encrypt key: kind says whether it is
// missing or unusable, "" when it could not be read at all.
func keyError(kind multinic.Kind, format string, args ...any) error {
	return &multinic.Error{Reason: multinic.ReasonConfig, Setting: multinic.SettingEncryptKey, Kind: kind, Err: fmt.Errorf(format, args...)}
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
		return "", "", keyError("", "read Secret %s/%s: %w", namespace, name, err)
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
