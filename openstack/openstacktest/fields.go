package openstacktest

import (
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Resource documents are structs whose json tags are the API attribute
// names. The helpers here let Neutron's generic query features (attribute
// filters and ?fields=) work on any of them without a hand-written switch per
// attribute.

var fieldIndexes sync.Map // reflect.Type → map[string]int

func fieldIndex(t reflect.Type) map[string]int {
	if idx, ok := fieldIndexes.Load(t); ok {
		return idx.(map[string]int)
	}
	idx := map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			idx[name] = i
		}
	}
	fieldIndexes.Store(t, idx)
	return idx
}

// selectFields keeps only the named attributes of doc, as ?fields= does;
// unknown names are ignored like upstream. Without names it returns doc.
func selectFields(doc any, names []string) any {
	if len(names) == 0 {
		return doc
	}
	v := reflect.ValueOf(doc)
	idx := fieldIndex(v.Type())
	out := make(map[string]any, len(names))
	for _, n := range names {
		i, ok := idx[n]
		if !ok {
			continue
		}
		f := v.Field(i)
		// An absent attribute (omitempty and nil) stays absent, as in the
		// whole document.
		if f.Kind() == reflect.Pointer && f.IsNil() && strings.Contains(v.Type().Field(i).Tag.Get("json"), ",omitempty") {
			continue
		}
		out[n] = f.Interface()
	}
	return out
}

// filterKind tells whether an attribute can be filtered on with a plain
// ?attr=value query: scalars can, lists and objects cannot.
func filterable(t reflect.Type, name string) bool {
	i, ok := fieldIndex(t)[name]
	if !ok {
		return false
	}
	switch f := t.Field(i).Type; f.Kind() {
	case reflect.String, reflect.Bool, reflect.Int:
		return true
	case reflect.Pointer:
		return f.Elem().Kind() == reflect.String || f.Elem().Kind() == reflect.Int
	}
	return false
}

// fieldsKey names the output of selectFields(doc of type t, names) so it can
// be cached: the JSON object of a selection is its key set (encoding/json
// sorts map keys; unknown names and repeats drop out), so the sorted, unique
// known names identify it. "" is the whole document (no ?fields=), which
// differs from a selection of no known names (an empty object).
func fieldsKey(t reflect.Type, names []string) string {
	if len(names) == 0 {
		return ""
	}
	idx := fieldIndex(t)
	known := make([]string, 0, len(names))
	for _, n := range names {
		if _, ok := idx[n]; ok {
			known = append(known, n)
		}
	}
	slices.Sort(known)
	return "fields:" + strings.Join(slices.Compact(known), ",")
}

// attrFilter is one ?attr=value filter resolved against a document type
// once per request, so checking a document is a field load and a compare
// rather than a name lookup and reflection on every candidate.
type attrFilter struct {
	index  int
	kind   reflect.Kind
	values []string
}

// compileFilters resolves the filters of q that matchesFilters checks: every
// key but the paging parameters and skip (keys served otherwise). The keys
// must have passed filterable.
func compileFilters(t reflect.Type, q url.Values, skip ...string) []attrFilter {
	var fs []attrFilter
	for key, values := range q {
		if slices.Contains(pagingParams, key) || slices.Contains(skip, key) {
			continue
		}
		i := fieldIndex(t)[key]
		fs = append(fs, attrFilter{index: i, kind: t.Field(i).Type.Kind(), values: values})
	}
	return fs
}

// matchesFilters reports whether the document v (a struct value) passes
// every filter: its attribute equals any of the filter's values, which is how
// Neutron combines a repeated filter.
func matchesFilters(v reflect.Value, fs []attrFilter) bool {
	for _, f := range fs {
		if !matchesAttr(v.Field(f.index), f.kind, f.values) {
			return false
		}
	}
	return true
}

func matchesAttr(f reflect.Value, kind reflect.Kind, values []string) bool {
	for _, want := range values {
		switch kind {
		case reflect.String:
			if f.String() == want {
				return true
			}
		case reflect.Bool:
			if b, ok := parseNeutronBool(want); ok && b == f.Bool() {
				return true
			}
		case reflect.Int:
			if n, err := strconv.Atoi(want); err == nil && int64(n) == f.Int() {
				return true
			}
		case reflect.Pointer:
			if !f.IsNil() && matchesAttr(f.Elem(), f.Elem().Kind(), []string{want}) {
				return true
			}
		}
	}
	return false
}

// parseNeutronBool is neutron_lib's convert_to_boolean for query strings.
func parseNeutronBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}
