package testapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"

	"github.com/multinic/multinic/viola"
)

// crdSchema is the generated CRD's schema as the API server uses it: the
// OpenAPI validator the API server's CRD validation is built on, and a
// structural schema for pruning unknown fields.
type crdSchema struct {
	validator  *validate.SchemaValidator
	structural *structuralschema.Structural
}

func loadCRDSchema(tb testing.TB) crdSchema {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("config", "crd", "multinic.io_multinicnodeconfigs.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &crd); err != nil {
		tb.Fatal(err)
	}
	v1Schema := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1Schema, &internal, nil); err != nil {
		tb.Fatal(err)
	}
	structural, err := structuralschema.NewStructural(&internal)
	if err != nil {
		tb.Fatal(err)
	}
	// A CRD schema is OpenAPI v3 JSON, so kube-openapi reads it as is.
	data, err = json.Marshal(v1Schema)
	if err != nil {
		tb.Fatal(err)
	}
	var openAPI spec.Schema
	if err := json.Unmarshal(data, &openAPI); err != nil {
		tb.Fatal(err)
	}
	return crdSchema{validator: validate.NewSchemaValidator(&openAPI, nil, "", strfmt.Default), structural: structural}
}

// FuzzDecodeAndConvert drives arbitrary bodies through the test API's
// request decoding and object conversion. Nothing may panic, and every
// object the test API would apply must pass the CRD's own validation with
// nothing pruned, be named after its node, carry valid labels and give every
// interface the name and MTU the node agent needs. The seeds run in every
// `go test`; `go test -fuzz=FuzzDecodeAndConvert ./viola/testapi` explores.
func FuzzDecodeAndConvert(f *testing.F) {
	iface := func(id int, extra string) string {
		return fmt.Sprintf(`{"id":%d,"name":"multinic%d","macAddress":"fa:16:3e:00:00:%02x","mtu":1450%s}`, id, id, id%256, extra)
	}
	node := func(name string, ifaces ...string) string {
		return `{"nodeName":"` + name + `","instanceId":"vm-1","interfaces":[` + strings.Join(ifaces, ",") + `]}`
	}
	for _, seed := range []struct{ body, providerID string }{
		{`[` + node("worker-1", iface(0, `,"portId":"p","address":"10.0.0.1","cidr":"10.0.0.0/24"`), iface(1, "")) + `]`, "provider-1"},
		{`[` + node("node.example.com", iface(9, "")) + `]`, "openstack:///Region-One/" + strings.Repeat("x", 80)},
		{`[` + node(strings.Repeat("a", 63)+"."+strings.Repeat("b", 63), iface(0, "")) + `]`, ""},
		{`[` + node("Worker-1", iface(0, "")) + `]`, "p"},
		{`[` + node(" worker-1 ", iface(0, "")) + `]`, "p"},
		{`[` + node("worker_1", iface(0, "")) + `]`, "p"},
		{`[` + node("a..b", iface(0, "")) + `]`, "p"},
		{`[` + node("worker-1", `{"id":0,"macAddress":"fa:16:3e:00:00:01","mtu":1450}`) + `]`, "p"},
		{`[` + node("worker-1", `{"id":0,"name":"multinic0","macAddress":"fa:16:3e:00:00:01"}`) + `]`, "p"},
		{`[` + node("worker-1", `{"id":0,"name":"multinic0","macAddress":"fa-16-3e-00-00-01","mtu":1450}`) + `]`, "p"},
		{`[` + node("worker-1", `{"id":-1,"name":"multinic-1","macAddress":"fa:16:3e:00:00:01","mtu":1450}`) + `]`, "p"},
		{`[` + node("worker-1", `{"id":4294967296,"name":"multinic4294967296","macAddress":"fa:16:3e:00:00:01","mtu":1450}`) + `]`, "p"},
		{`[` + node("worker-1", `{"id":1e400}`) + `]`, "p"},
		{`[` + node("worker-1", iface(0, ""), iface(0, "")) + `]`, "p"},
		{`[` + node("worker-1", iface(0, "")) + `,` + node("worker-1", iface(1, "")) + `]`, "p"},
		{`[{"NODENAME":"worker-1","nodeName":"Worker-1","interfaces":[` + iface(0, "") + `]}]`, "p"},
		{`[{"nodeName":null,"interfaces":null}]`, "p"},
		{`[null]`, "p"}, {`[]`, "p"}, {`{}`, "p"}, {``, "p"}, {"[\"\xff\"]", "p"}, {`[[]]`, "p"},
	} {
		f.Add([]byte(seed.body), seed.providerID)
	}
	schema := loadCRDSchema(f)
	h := &handler{opts: Options{Namespace: DefaultNamespace}}

	f.Fuzz(func(t *testing.T, body []byte, providerID string) {
		configs, err := decodeConfigs(body)
		if err != nil {
			return
		}
		objects, err := h.objects(configs, providerID)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		for _, obj := range objects {
			if errs := validation.IsDNS1123Subdomain(obj.Name); len(errs) > 0 || obj.Name != obj.Spec.NodeName {
				t.Fatalf("object name %q for node %q: %v", obj.Name, obj.Spec.NodeName, errs)
			}
			for key, value := range obj.Labels {
				if errs := validation.IsValidLabelValue(value); len(errs) > 0 {
					t.Fatalf("label %s=%q: %v", key, value, errs)
				}
			}
			if label := obj.Labels[LabelNodeName]; label != strings.ToLower(label) {
				t.Fatalf("node-name label %q is not lower-case", label)
			}
			for i, iface := range obj.Spec.Interfaces {
				if iface.ID == nil || iface.Name != viola.InterfaceName(int(*iface.ID)) || iface.MTU == 0 {
					t.Fatalf("interfaces[%d] lacks what the agent needs: %+v", i, iface)
				}
			}
			applied, err := applyObject(obj)
			if err != nil {
				t.Fatal(err)
			}
			if result := schema.validator.Validate(applied.Object); !result.IsValid() {
				t.Fatalf("the CRD refuses the object for %q: %v", obj.Name, result.Errors)
			}
			pruned := pruning.PruneWithOptions(runtime.DeepCopyJSON(applied.Object), schema.structural, true,
				structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
			if len(pruned) > 0 {
				t.Fatalf("the API server would drop fields of %q: %v", obj.Name, pruned)
			}
		}
	})
}

// TestFuzzOracleCanFail shows the checks FuzzDecodeAndConvert relies on
// refuse what the API server refuses and see what it would prune.
func TestFuzzOracleCanFail(t *testing.T) {
	schema := loadCRDSchema(t)
	object := func(iface map[string]any) map[string]any {
		return map[string]any{
			"apiVersion": "multinic.io/v1alpha1", "kind": "MultiNicNodeConfig",
			"metadata": map[string]any{"name": "n", "namespace": DefaultNamespace},
			"spec":     map[string]any{"nodeName": "n", "interfaces": []any{iface}},
		}
	}
	valid := map[string]any{"id": int64(0), "name": "multinic0", "macAddress": "fa:16:3e:00:00:01", "mtu": int64(1450)}
	if result := schema.validator.Validate(object(valid)); !result.IsValid() {
		t.Fatalf("a valid object is refused: %v", result.Errors)
	}
	for field, bad := range map[string]any{"macAddress": "fa-16-3e-00-00-01", "name": "eth0", "mtu": int64(9001), "id": int64(-1)} {
		iface := maps.Clone(valid)
		iface[field] = bad
		if schema.validator.Validate(object(iface)).IsValid() {
			t.Errorf("%s=%v passes the validator", field, bad)
		}
	}
	unknown := maps.Clone(valid)
	unknown["vlan"] = int64(7)
	pruned := pruning.PruneWithOptions(object(unknown), schema.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	if len(pruned) != 1 || pruned[0] != "spec.interfaces[0].vlan" {
		t.Errorf("pruned %v, want the unknown field", pruned)
	}
}
