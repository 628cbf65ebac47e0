package inventory

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// openAPIDoc is the part of an OpenAPI 3 document the tests compare with the
// handler. Parameters given by $ref are resolved against components.
type openAPIDoc struct {
	OpenAPI string                                 `yaml:"openapi"`
	Paths   map[string]map[string]openAPIOperation `yaml:"paths"`
	Comps   struct {
		Parameters map[string]openAPIParameter `yaml:"parameters"`
		Schemas    map[string]struct {
			Properties map[string]any `yaml:"properties"`
			Required   []string       `yaml:"required"`
		} `yaml:"schemas"`
	} `yaml:"components"`
}

type openAPIOperation struct {
	Parameters []openAPIParameter `yaml:"parameters"`
	Responses  map[string]any     `yaml:"responses"`
}

type openAPIParameter struct {
	Ref      string `yaml:"$ref"`
	Name     string `yaml:"name"`
	In       string `yaml:"in"`
	Required bool   `yaml:"required"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	require.NoError(t, yaml.Unmarshal(openAPIDocument, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."), "openapi version %q", doc.OpenAPI)
	return doc
}

// params returns the names of op's parameters located in "in".
func (d openAPIDoc) params(t *testing.T, op openAPIOperation, in string) []string {
	t.Helper()
	var names []string
	for _, p := range op.Parameters {
		if p.Ref != "" {
			name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/")
			require.True(t, ok, "unsupported $ref %q", p.Ref)
			resolved, ok := d.Comps.Parameters[name]
			require.True(t, ok, "dangling $ref %q", p.Ref)
			p = resolved
		}
		if p.In == in {
			names = append(names, p.Name)
		}
	}
	slices.Sort(names)
	return names
}

// The document lists /openapi.yaml itself: it is a route the handler serves,
// and clients discovering the API may look for it there.
func TestOpenAPIListsExactlyTheServedRoutes(t *testing.T) {
	doc := loadOpenAPI(t)

	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	var served []string
	for _, rt := range routes {
		served = append(served, rt.pattern)
	}
	assert.ElementsMatch(t, served, documented)
}

func TestOpenAPIMatchesWhatTheHandlerAnswers(t *testing.T) {
	doc := loadOpenAPI(t)
	h, _ := seeded(t)
	disabled := NewHandler(nil)

	for path, ops := range doc.Paths {
		target := strings.ReplaceAll(path, "{nodeName}", "worker-1")
		for method, op := range ops {
			rec := serve(h, strings.ToUpper(method), target)
			assert.Contains(t, op.Responses, strconv.Itoa(rec.Code), "%s %s answered an undocumented status", method, path)
			assert.Equal(t, http.StatusOK, rec.Code, "%s %s", method, path)
			if rec := serve(disabled, strings.ToUpper(method), target); rec.Code != http.StatusOK {
				assert.Contains(t, op.Responses, strconv.Itoa(rec.Code), "disabled: %s %s", method, path)
			}
		}
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			assert.Equal(t, http.StatusMethodNotAllowed, serve(h, method, target).Code, "%s %s", method, path)
		}
	}
	byNode := doc.Paths[NodeConfigsPath+"/{nodeName}"]["get"]
	assert.Contains(t, byNode.Responses, strconv.Itoa(serve(h, http.MethodGet, NodeConfigsPath+"/worker-9").Code))
	for _, op := range []openAPIOperation{doc.Paths[NodeConfigsPath]["get"], byNode} {
		assert.Contains(t, op.Responses, strconv.Itoa(serve(h, http.MethodGet, NodeConfigsPath+"?x=1").Code))
		assert.Contains(t, op.Responses, strconv.Itoa(serve(h, http.MethodGet, NodeConfigsPath+"?"+strings.Repeat("x", MaxQueryBytes+1)).Code))
	}
}

func TestOpenAPIParametersMatchTheHandler(t *testing.T) {
	doc := loadOpenAPI(t)

	list := doc.Paths[NodeConfigsPath]["get"]
	assert.Equal(t, slices.Sorted(slices.Values(listParams)), doc.params(t, list, "query"))
	assert.Empty(t, doc.params(t, list, "path"))

	byNode := doc.Paths[NodeConfigsPath+"/{nodeName}"]["get"]
	assert.Equal(t, slices.Sorted(slices.Values(byNodeParams)), doc.params(t, byNode, "query"))
	assert.Equal(t, []string{"nodeName"}, doc.params(t, byNode, "path"))

	for _, path := range []string{HealthzPath, OpenAPIPath} {
		assert.Empty(t, doc.Paths[path]["get"].Parameters, path)
	}
}

// The schemas must name the JSON fields the handler really sends, so a field
// added to Record or viola.NodeConfig cannot go undocumented.
func TestOpenAPISchemasMatchTheJSON(t *testing.T) {
	doc := loadOpenAPI(t)
	_, s := seeded(t)
	sourced := node("worker-1", "vm-a1", "fa:16:3e:00:00:01")
	sourced.NodeNameSource = "hostname" // optional, so set here to be checked too
	_, err := s.Upsert("prov-a", sourced)
	require.NoError(t, err)
	_, err = s.MarkOrphaned("prov-a", OrphanMark{NodeName: "worker-1", Reason: "VM vm-a1 left vmNames"}) // every optional field set
	require.NoError(t, err)
	rec, ok := s.Get("prov-a", "worker-1")
	require.True(t, ok)

	var asMap map[string]any
	data, err := json.Marshal(rec)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &asMap))
	config := asMap["config"].(map[string]any)
	iface := config["interfaces"].([]any)[0].(map[string]any)

	for schema, got := range map[string]map[string]any{"Record": asMap, "NodeConfig": config, "Interface": iface} {
		props := doc.Comps.Schemas[schema].Properties
		assert.ElementsMatch(t, slices.Collect(maps.Keys(got)), slices.Collect(maps.Keys(props)), schema)
		for _, name := range doc.Comps.Schemas[schema].Required {
			assert.Contains(t, props, name, "%s requires an undeclared property", schema)
		}
	}
}
