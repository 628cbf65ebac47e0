package openstacktest

import (
	"reflect"
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
		if i, ok := idx[n]; ok {
			out[n] = v.Field(i).Interface()
		}
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
		return f.Elem().Kind() == reflect.String
	}
	return false
}

// matchesAttr reports whether doc's attribute equals any of the values, which
// is how Neutron combines a repeated filter.
func matchesAttr(doc any, name string, values []string) bool {
	v := reflect.ValueOf(doc)
	f := v.Field(fieldIndex(v.Type())[name])
	for _, want := range values {
		switch f.Kind() {
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
			if !f.IsNil() && f.Elem().String() == want {
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
