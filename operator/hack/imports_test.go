package hack

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/multinic/multinic"

// TestNoImportClimbs keeps the layering one-way: grouping the module's
// packages by their top-level folder (multinic, openstack, viola, operator,
// internal, …), the folders' imports, tests included, must form no cycle.
// A fake under openstack/ that imported a helper under multinic/ (which
// imports openstack/) would be such a climb: the helper sits above the
// package it serves, so neither can be used or moved without the other.
func TestNoImportClimbs(t *testing.T) {
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports,Error", module+"/...")
	cmd.Dir = pkgRepoRoot(t)
	out, err := cmd.Output()
	require.NoError(t, err, "go list")

	edges := map[string]map[string][]string{} // folder -> imported folder -> "pkg imports pkg" examples
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
			Error                              *struct{ Err string }
		}
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.Nil(t, p.Error, "go list %s", p.ImportPath)
		from := folderOf(p.ImportPath)
		for _, imp := range slices.Concat(p.Imports, p.TestImports, p.XTestImports) {
			to := folderOf(imp)
			if to == "" || to == from {
				continue
			}
			if edges[from] == nil {
				edges[from] = map[string][]string{}
			}
			edges[from][to] = append(edges[from][to], p.ImportPath+" imports "+imp)
		}
	}
	require.NotEmpty(t, edges, "go list found the module's imports")

	// Depth-first search for a cycle; report its edges with one example each.
	const (
		unseen = iota
		open
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(string)
	visit = func(f string) {
		state[f] = open
		stack = append(stack, f)
		targets := make([]string, 0, len(edges[f]))
		for to := range edges[f] {
			targets = append(targets, to)
		}
		slices.Sort(targets)
		for _, to := range targets {
			switch state[to] {
			case open:
				cycle := append(slices.Clone(stack[slices.Index(stack, to):]), to)
				var why []string
				for i := 0; i+1 < len(cycle); i++ {
					why = append(why, edges[cycle[i]][cycle[i+1]][0])
				}
				t.Fatalf("import climb: the folders %s import each other:\n  %s", strings.Join(cycle, " -> "), strings.Join(why, "\n  "))
			case unseen:
				visit(to)
			}
		}
		stack = stack[:len(stack)-1]
		state[f] = done
	}
	folders := make([]string, 0, len(edges))
	for f := range edges {
		folders = append(folders, f)
	}
	slices.Sort(folders)
	for _, f := range folders {
		if state[f] == unseen {
			visit(f)
		}
	}
}

// folderOf is the top-level folder of a package of this module, or "" for
// a package of another module.
func folderOf(importPath string) string {
	rest, ok := strings.CutPrefix(importPath, module+"/")
	if !ok {
		return ""
	}
	folder, _, _ := strings.Cut(rest, "/")
	return folder
}
