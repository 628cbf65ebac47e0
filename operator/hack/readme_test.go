package hack

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

// TestReadmeGoSnippetsCompile builds every Go snippet of the README as the
// program a reader would paste, against this checkout of the module.
func TestReadmeGoSnippetsCompile(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	blocks := goBlock.FindAllSubmatch(readme, -1)
	require.NotEmpty(t, blocks, "the README has Go snippets")

	for i, block := range blocks {
		src := block[1]
		line := 1 + bytes.Count(readme[:bytes.Index(readme, block[0])], []byte("\n"))
		t.Run("README.md:"+strconv.Itoa(line), func(t *testing.T) {
			require.Regexp(t, `(?m)^package \w+$`, string(src), "a snippet is a whole file, so readers can paste it")
			// Inside the module so its imports resolve to this checkout; an
			// underscore directory is left out of ./... patterns.
			dir, err := os.MkdirTemp(filepath.Join(root, "operator", "hack"), "_readme")
			require.NoError(t, err)
			t.Cleanup(func() { os.RemoveAll(dir) })
			require.NoError(t, os.WriteFile(filepath.Join(dir, "snippet.go"), src, 0o644))
			cmd := exec.Command("go", "vet", "./"+filepath.Base(dir))
			cmd.Dir = filepath.Dir(dir)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "snippet %d (README.md line %d) does not compile:\n%s", i+1, line, strings.ReplaceAll(string(out), dir+"/", ""))
		})
	}
}
