// Package docs holds the project's documentation; its test keeps every Go
// snippet in README.md and docs/ compiling against this checkout.
package docs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// goBlock is a fenced Go snippet of a Markdown file.
var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// TestGoSnippetsCompile vets every Go snippet of the README and docs/ as the
// program a reader would paste, against this checkout of the module.
func TestGoSnippetsCompile(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	require.NoError(t, err)
	files = append([]string{filepath.Join(root, "README.md")}, files...)
	found := 0
	for _, file := range files {
		text, err := os.ReadFile(file)
		require.NoError(t, err)
		rel, _ := filepath.Rel(root, file)
		for _, at := range goBlock.FindAllSubmatchIndex(text, -1) {
			found++
			src := text[at[2]:at[3]]
			line := 1 + bytes.Count(text[:at[0]], []byte("\n"))
			name := rel + ":" + strconv.Itoa(line)
			t.Run(name, func(t *testing.T) {
				require.Regexp(t, `(?m)^package \w+$`, string(src), "a snippet is a whole file, so readers can paste it")
				// Inside the module so its imports resolve to this checkout; an
				// underscore directory is left out of ./... patterns.
				dir, err := os.MkdirTemp(filepath.Join(root, "docs"), "_snippet") //nolint:usetesting // t.TempDir is outside the module
				require.NoError(t, err)
				t.Cleanup(func() { os.RemoveAll(dir) })
				require.NoError(t, os.WriteFile(filepath.Join(dir, "snippet.go"), src, 0o644))
				cmd := exec.Command("go", "vet", "./"+filepath.Base(dir))
				cmd.Dir = filepath.Dir(dir)
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "the snippet at %s does not compile:\n%s", name, strings.ReplaceAll(string(out), dir+"/", ""))
			})
		}
	}
	require.NotZero(t, found, "the README and docs/ have Go snippets")
}
