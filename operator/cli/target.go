package cli

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/crconfig"
)

// inputFlags select the OpenstackConfig and fill in what the operator would
// add to it (its VIOLA_* environment, the inventory).
type inputFlags struct {
	file          string
	keyFile       string
	tokenFile     string
	violaEndpoint string
	violaInsecure bool
	operator      string
	inventoryURL  string
	inventoryFile string
	output        string
}

func (in *inputFlags) bind(fs *pflag.FlagSet) {
	fs.StringVarP(&in.file, "filename", "f", "", "read the OpenstackConfig from this YAML or JSON file instead of the cluster (no cluster is used)")
	fs.StringVar(&in.keyFile, "encrypt-key-file", "", "file holding the Contrabass encrypt key (instead of the CR's Secret or setting); surrounding white space is ignored")
	fs.StringVar(&in.tokenFile, "contrabass-token-file", "", "file holding the bearer token for Contrabass (instead of the CR's contrabassBearerTokenSecretRef or the operator's CONTRABASS_BEARER_TOKEN); surrounding white space is ignored")
	fs.StringVar(&in.violaEndpoint, "viola-endpoint", "", "the operator's VIOLA_ENDPOINT, for a CR without settings.violaEndpoint (default: read from the operator's Deployment)")
	fs.BoolVar(&in.violaInsecure, "viola-insecure-tls", false, "the operator's VIOLA_INSECURE_TLS=true (default: read from the operator's Deployment)")
	fs.StringVar(&in.operator, "operator", DefaultOperator, "namespace/release of the operator: its Deployment is the one labelled app.kubernetes.io/instance=RELEASE (Helm) or named RELEASE-controller-manager (kustomize prefix), its inventory Service the one selecting that Deployment's pods")
	fs.StringVar(&in.inventoryURL, "inventory-url", "", "base URL of the inventory API (GET only), e.g. http://localhost:18081 after kubectl port-forward (default: the operator's inventory Service through the API server)")
	fs.StringVar(&in.inventoryFile, "inventory-file", "", "the inventory at INVENTORY_DB_PATH, or a copy of it (the file and the .d directory beside it), read only")
	fs.StringVarP(&in.output, "output", "o", "text", "output format: text, json or yaml")
}

// validate refuses flag combinations before anything is read.
func (in *inputFlags) validate() error {
	switch in.output {
	case "text", "json", "yaml":
	default:
		return usageError{fmt.Errorf("--output must be text, json or yaml, got %q", in.output)}
	}
	if in.inventoryFile != "" && in.inventoryURL != "" {
		return usageError{errors.New("give --inventory-file or --inventory-url, not both")}
	}
	return nil
}

// kube is a connection to the cluster of the user's kubeconfig.
type kube struct {
	client    client.Client
	clientset kubernetes.Interface
	namespace string
	operator  *operatorLookup // the last operatorDeployment answer
}

// connect builds clients from kubectl's flags and kubeconfig.
func (g *globals) connect() (*kube, error) {
	config, namespace := g.opts.RESTConfig, cmp.Or(g.kubeFlags.Context.Namespace, "default")
	if config == nil {
		loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(g.rules, &g.kubeFlags)
		var err error
		if namespace, _, err = loader.Namespace(); err != nil {
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
		if config, err = loader.ClientConfig(); err != nil {
			return nil, fmt.Errorf("kubeconfig: %w (use -f FILE to check a CR without a cluster)", err)
		}
	}
	config = rest.CopyConfig(config)
	config.UserAgent = "multinicctl"
	scheme, err := crconfig.NewScheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(config, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connect to the cluster: %w", err)
	}
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("connect to the cluster: %w", err)
	}
	return &kube{client: c, clientset: clientset, namespace: namespace}, nil
}

// target is the OpenstackConfig a command works on.
type target struct {
	// ref names it in output: "namespace/name", or the file it came from.
	ref  string
	oc   *v1alpha1.OpenstackConfig
	kube *kube // nil with -f
}

// prepare checks the flags, then reads the CR and picks the inventory source.
func (g *globals) prepare(ctx context.Context, in *inputFlags, args []string) (*target, inventorySource, error) {
	if err := in.validate(); err != nil {
		return nil, nil, err
	}
	t, err := g.load(ctx, in, args)
	if err != nil {
		return nil, nil, err
	}
	src, err := inventorySourceFor(ctx, t, in)
	if err != nil {
		return nil, nil, err
	}
	return t, src, nil
}

// load reads the CR from the cluster (NAME) or from -f.
func (g *globals) load(ctx context.Context, in *inputFlags, args []string) (*target, error) {
	if in.file != "" {
		name := ""
		if len(args) > 0 {
			name = args[0]
		}
		oc, err := readConfigFile(in.file, name)
		if err != nil {
			return nil, err
		}
		if oc.Namespace == "" {
			oc.Namespace = g.kubeFlags.Context.Namespace
		}
		if oc.Namespace == "" {
			oc.Namespace = "default"
		}
		return &target{ref: in.file, oc: oc}, nil
	}
	if len(args) == 0 {
		return nil, usageError{errors.New("name the OpenstackConfig (NAME, with -n NAMESPACE), or give a file with -f")}
	}
	k, err := g.connect()
	if err != nil {
		return nil, err
	}
	oc := &v1alpha1.OpenstackConfig{}
	key := types.NamespacedName{Namespace: k.namespace, Name: args[0]}
	if err := k.client.Get(ctx, key, oc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("OpenstackConfig %s not found (see: kubectl get openstackconfigs -n %s)", key, key.Namespace)
		}
		return nil, fmt.Errorf("read OpenstackConfig %s: %w", key, err)
	}
	return &target{ref: key.String(), oc: oc, kube: k}, nil
}

// readConfigFile decodes the OpenstackConfig of a manifest file. Unknown
// fields are errors (the API server would drop them silently, and a typo'd
// setting is exactly what a check should catch). Other documents, such as
// the Secret beside the CR, are ignored; with several OpenstackConfigs,
// name picks one.
func readConfigFile(path, name string) (*v1alpha1.OpenstackConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-f: %w", err)
	}
	docs, err := splitYAML(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var found []*v1alpha1.OpenstackConfig
	var names []string
	for i, doc := range docs {
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i+1, err)
		}
		if meta.Kind != "OpenstackConfig" {
			continue
		}
		if meta.APIVersion != v1alpha1.GroupVersion.String() {
			return nil, fmt.Errorf("%s: document %d: apiVersion %q, this build reads %s", path, i+1, meta.APIVersion, v1alpha1.GroupVersion)
		}
		oc := &v1alpha1.OpenstackConfig{}
		if err := yaml.UnmarshalStrict(doc, oc); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i+1, err)
		}
		names = append(names, oc.Name)
		if name == "" || oc.Name == name {
			found = append(found, oc)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(names) == 0:
		return nil, fmt.Errorf("%s holds no OpenstackConfig (kind: OpenstackConfig, apiVersion: %s)", path, v1alpha1.GroupVersion)
	case len(found) == 0:
		return nil, fmt.Errorf("%s has no OpenstackConfig named %q (it has %s)", path, name, strings.Join(names, ", "))
	default:
		return nil, usageError{fmt.Errorf("%s holds %d OpenstackConfigs (%s): name one", path, len(found), strings.Join(names, ", "))}
	}
}

// splitYAML returns the documents of a YAML stream (or one JSON document).
func splitYAML(data []byte) ([][]byte, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) > 0 {
			docs = append(docs, doc)
		}
	}
}

// settings is the library Config the operator would build for a target, and
// what was found along the way, for the check's first two steps.
type settings struct {
	cfg         multinic.Config
	violaSource string
	warnings    []string
	err         error // ConfigError or SubnetRequired: the settings step fails
	key         crconfig.EncryptKey
	keyErr      error
}

// resolve converts the CR the way the operator does (crconfig.SpecConfig
// and crconfig.ResolveEncryptKey), with the operator-wide settings from
// the flags or, on a cluster, from the operator's Deployment. Without
// needViola (plan: a dry run posts nothing) a missing Viola endpoint is
// no error.
func (g *globals) resolve(ctx context.Context, t *target, in *inputFlags, needViola bool) settings {
	var s settings
	defaults := g.opts.Defaults
	// Where the Viola endpoint comes from, or, when nowhere, why this tool
	// found no VIOLA_ENDPOINT of the operator.
	looked := "without a cluster this tool cannot read the operator's VIOLA_ENDPOINT"
	var envErr error
	operatorToken := false
	if t.kube != nil {
		env, err := t.kube.operatorEnv(ctx, in.operator)
		if err != nil {
			looked = "the operator's VIOLA_ENDPOINT could not be read: " + err.Error()
			envErr = err
		} else {
			operatorToken = env.contrabassToken
			looked = env.from + " sets no VIOLA_ENDPOINT"
			if env.endpoint != "" {
				defaults.Viola.Endpoint, s.violaSource = env.endpoint, "VIOLA_ENDPOINT of "+env.from
			}
			defaults.Viola.InsecureTLS = env.insecureTLS
			if env.timeout > 0 {
				defaults.Viola.Timeout = env.timeout
			}
			s.warnings = append(s.warnings, env.warnings...)
		}
	}
	if in.violaEndpoint != "" {
		defaults.Viola.Endpoint, s.violaSource = in.violaEndpoint, "--viola-endpoint"
	}
	if t.oc.Spec.Settings.ViolaEndpoint != "" {
		s.violaSource = "spec.settings.violaEndpoint"
	}
	defaults.Viola.InsecureTLS = defaults.Viola.InsecureTLS || in.violaInsecure

	cfg, err := crconfig.SpecConfig(t.oc, defaults)
	if !needViola {
		err = without(err, multinic.SettingViolaEndpoint, multinic.KindMissing)
	}
	if envErr != nil && strings.HasPrefix(cfg.Viola.Endpoint, "https://") && !in.violaInsecure {
		// Only TLS makes the operator's other VIOLA_* settings matter.
		s.warnings = append(s.warnings, "the operator's VIOLA_INSECURE_TLS is unknown, so the certificate is verified (--viola-insecure-tls if the operator skips it): "+envErr.Error())
	}
	if cfg.Viola.Endpoint == "" && needViola {
		err = crconfig.Join(err, &multinic.Error{Reason: multinic.ReasonConfig, Setting: multinic.SettingViolaEndpoint, Kind: multinic.KindMissing,
			Err: errors.New("(" + looked + "; pass --viola-endpoint)")})
	}
	token, tokenWarning, tokenErr := g.bearerToken(ctx, t, in, operatorToken)
	if token != "" {
		cfg.Contrabass.BearerToken = token
	}
	if tokenWarning != "" {
		s.warnings = append(s.warnings, tokenWarning)
	}
	s.err = crconfig.Join(err, tokenErr)
	s.key, s.keyErr = g.encryptKey(ctx, t, in)
	cfg.EncryptKey = s.key.Value
	s.cfg = cfg
	return s
}

// bearerToken is the Contrabass bearer token the operator would send for
// the CR: --contrabass-token-file, else the CR's Secret reference (read on a
// cluster). The operator-wide CONTRABASS_BEARER_TOKEN is a secret this tool
// never reads from the Deployment: warning says when the operator has one.
func (g *globals) bearerToken(ctx context.Context, t *target, in *inputFlags, operatorToken bool) (token, warning string, err error) {
	if in.tokenFile != "" {
		data, err := os.ReadFile(in.tokenFile)
		if err != nil {
			return "", "", &multinic.Error{Reason: multinic.ReasonConfig, Setting: multinic.SettingContrabassBearerToken, Kind: multinic.KindMissing, Err: fmt.Errorf("--contrabass-token-file: %w", err)}
		}
		return strings.TrimSpace(string(data)), "", nil
	}
	ref := t.oc.Spec.Secrets.ContrabassBearerTokenSecretRef
	switch {
	case ref != nil && t.kube != nil:
		token, err := crconfig.ResolveBearerToken(ctx, t.kube.client, t.oc)
		if apierrors.IsForbidden(errors.Unwrap(err)) {
			err = fmt.Errorf("%w (your kubeconfig user may not read that Secret: pass the token with --contrabass-token-file)", err)
		}
		return token, "", err
	case ref != nil:
		return "", fmt.Sprintf("the CR reads its Contrabass bearer token from Secret %s/%s key %q, which this tool cannot read without a cluster: pass --contrabass-token-file", t.oc.Namespace, ref.Name, ref.Key), nil
	case operatorToken:
		return "", "the operator sends Contrabass a bearer token (its CONTRABASS_BEARER_TOKEN), which this tool does not read: pass --contrabass-token-file if Contrabass wants one", nil
	}
	return "", "", nil
}

func (g *globals) encryptKey(ctx context.Context, t *target, in *inputFlags) (crconfig.EncryptKey, error) {
	configError := func(format string, args ...any) error {
		return &multinic.Error{Reason: multinic.ReasonConfig, Err: fmt.Errorf(format, args...)}
	}
	if in.keyFile != "" {
		data, err := os.ReadFile(in.keyFile)
		if err != nil {
			return crconfig.EncryptKey{}, configError("--encrypt-key-file: %w", err)
		}
		return crconfig.CheckEncryptKey(string(data), "--encrypt-key-file "+in.keyFile)
	}
	if t.kube != nil {
		key, err := crconfig.ResolveEncryptKey(ctx, t.kube.client, t.oc)
		if apierrors.IsForbidden(err) {
			err = configError("%w (your kubeconfig user may not read that Secret: pass the key with --encrypt-key-file)", err)
		}
		return key, err
	}
	set := t.oc.Spec
	switch {
	case set.Secrets.ContrabassEncryptKeySecretRef != nil:
		ref := set.Secrets.ContrabassEncryptKeySecretRef
		return crconfig.EncryptKey{}, keyFileNeeded("the CR reads its key from Secret %s/%s key %q (spec.secrets.contrabassEncryptKeySecretRef); without a cluster pass the key with --encrypt-key-file", t.oc.Namespace, ref.Name, ref.Key)
	case strings.TrimSpace(set.Settings.ContrabassEncryptKey) != "":
		return crconfig.CheckEncryptKey(set.Settings.ContrabassEncryptKey, "spec.settings.contrabassEncryptKey")
	}
	return crconfig.EncryptKey{}, keyFileNeeded("without a cluster pass the key with --encrypt-key-file (the operator would read Secret %s/%s, key %s)",
		t.oc.Namespace, crconfig.DefaultEncryptKeySecret, crconfig.DefaultEncryptKeyField)
}

// operatorEnv is what the operator's Deployment sets of the Viola settings.
type operatorEnv struct {
	from string
	// contrabassToken: the operator sends Contrabass a bearer token.
	contrabassToken bool
	endpoint        string
	insecureTLS     bool
	timeout         time.Duration
	warnings        []string
}

// operatorEnv reads VIOLA_ENDPOINT, VIOLA_INSECURE_TLS and VIOLA_TIMEOUT from
// the manager container of the operator's Deployment, parsed as the
// operator parses them. Values taken from ConfigMaps or Secrets are not
// followed; the warning says to pass the flag.
func (k *kube) operatorEnv(ctx context.Context, operator string) (operatorEnv, error) {
	ref, err := parseOperatorRef(operator)
	if err != nil {
		return operatorEnv{}, err
	}
	d, err := k.operatorDeployment(ctx, ref)
	if err != nil {
		return operatorEnv{}, err
	}
	env := operatorEnv{from: "deployment " + d.Namespace + "/" + d.Name}
	c := managerContainer(d)
	if c == nil {
		return env, nil
	}
	for _, e := range c.Env {
		if e.Name == "CONTRABASS_BEARER_TOKEN" && (e.ValueFrom != nil || strings.TrimSpace(e.Value) != "") {
			env.contrabassToken = true // never read: a secret
			continue
		}
		if e.ValueFrom != nil && strings.HasPrefix(e.Name, "VIOLA_") {
			env.warnings = append(env.warnings, fmt.Sprintf("%s of %s comes from a ConfigMap or Secret, which this tool does not follow: pass it as a flag", e.Name, env.from))
			continue
		}
		value := strings.TrimSpace(e.Value)
		switch e.Name {
		case "VIOLA_ENDPOINT":
			env.endpoint = value
		case "VIOLA_INSECURE_TLS":
			if b, err := strconv.ParseBool(value); err == nil {
				env.insecureTLS = b
			}
		case "VIOLA_TIMEOUT":
			if d, err := time.ParseDuration(value); err == nil && d > 0 {
				env.timeout = d
			}
		}
	}
	return env, nil
}

// without is err less its problems of setting and kind: nil when nothing
// else is wrong.
func without(err error, setting multinic.Setting, kind multinic.Kind) error {
	var e *multinic.Error
	if !errors.As(err, &e) {
		return err
	}
	var kept []error
	for _, p := range append([]*multinic.Error{e}, e.Also...) {
		if p.Setting != setting || p.Kind != kind {
			one := *p
			one.Also = nil
			kept = append(kept, &one)
		}
	}
	return crconfig.Join(kept...)
}
