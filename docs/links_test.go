package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	fence      = regexp.MustCompile("(?ms)^[ \t]*(```|~~~).*?^[ \t]*(```|~~~)[ \t]*$") //nolint:gocritic // badRegexp misses (?m): the second ^ starts the closing fence's line
	codeSpan   = regexp.MustCompile("`[^`\n]*`")
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	refLink    = regexp.MustCompile(`(?m)^[ \t]*\[[^\]]+\]:[ \t]*<?(\S+?)>?(?:[ \t]+"[^"]*")?[ \t]*$`)
	htmlAnchor = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
	heading    = regexp.MustCompile(`(?m)^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$`)
	scheme     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
	// Documents that are not part of this repository: a reader of a clone
	// cannot open them, so nothing here may send a reader to them.
	outsideDocs = regexp.MustCompile(`\bSPEC\b|SPEC\.md|(?i:maintenance[ -]guide)|유지보수 가이드`)
)

// TestMarkdownLinksResolve follows every relative link of every Markdown
// file in the repository: the file or directory must exist in the checkout
// and a #fragment must name a heading of the Markdown file it points into.
// Moving a section between files breaks a link silently otherwise.
func TestMarkdownLinksResolve(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	files := markdownFiles(t, root)
	require.Contains(t, files, filepath.Join(root, "README.md"))
	anchors := map[string]map[string]bool{}
	anchorsOf := func(file string) map[string]bool {
		if a, ok := anchors[file]; ok {
			return a
		}
		text, err := os.ReadFile(file)
		require.NoError(t, err)
		anchors[file] = headingAnchors(string(text))
		return anchors[file]
	}
	checked := 0
	for _, file := range files {
		text, err := os.ReadFile(file)
		require.NoError(t, err)
		rel, _ := filepath.Rel(root, file)
		for _, target := range linkTargets(string(text)) {
			if scheme.MatchString(target) {
				continue
			}
			checked++
			path, fragment, _ := strings.Cut(target, "#")
			dest := file
			if path != "" {
				if strings.HasPrefix(path, "/") {
					dest = filepath.Join(root, filepath.FromSlash(path))
				} else {
					dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
				}
			}
			inside, err := filepath.Rel(root, dest)
			if !assert.NoError(t, err) || !assert.False(t, strings.HasPrefix(inside, ".."), "%s: link %q leaves the repository", rel, target) {
				continue
			}
			info, err := os.Stat(dest)
			if !assert.NoError(t, err, "%s: link %q points at nothing", rel, target) {
				continue
			}
			if fragment != "" && !info.IsDir() && strings.HasSuffix(dest, ".md") {
				assert.True(t, anchorsOf(dest)[fragment], "%s: link %q names no heading of %s", rel, target, inside)
			}
		}
	}
	require.NotZero(t, checked, "the README and docs/ link to each other")
}

// TestNoOutsideDocuments keeps the Markdown files from citing documents a
// reader of the repository does not have.
func TestNoOutsideDocuments(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	for _, file := range markdownFiles(t, root) {
		text, err := os.ReadFile(file)
		require.NoError(t, err)
		rel, _ := filepath.Rel(root, file)
		for i, line := range strings.Split(string(text), "\n") {
			assert.NotRegexp(t, outsideDocs, line, "%s:%d cites a document that is not in the repository", rel, i+1)
		}
	}
}

// markdownFiles lists the repository's Markdown files, leaving out hidden
// and build-output directories and the snippet test's temporary ones.
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "dist" || name == "bin" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".md") {
			files = append(files, path)
		}
		return nil
	})
	require.NoError(t, err)
	return files
}

// linkTargets returns the targets of the inline and reference links of a
// Markdown text, leaving out code, where brackets are not links.
func linkTargets(text string) []string {
	text = fence.ReplaceAllString(text, "")
	text = codeSpan.ReplaceAllString(text, "")
	var out []string
	for _, m := range inlineLink.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	for _, m := range refLink.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// headingAnchors are the fragments GitHub gives the headings of a Markdown
// text (lower case, punctuation dropped, spaces to hyphens, repeats
// numbered), plus explicit <a id> anchors.
func headingAnchors(text string) map[string]bool {
	anchors := map[string]bool{}
	for _, m := range htmlAnchor.FindAllStringSubmatch(text, -1) {
		anchors[m[1]] = true
	}
	seen := map[string]int{}
	for _, m := range heading.FindAllStringSubmatch(fence.ReplaceAllString(text, ""), -1) {
		slug := slugify(m[1])
		if n := seen[slug]; n > 0 {
			anchors[slug+"-"+strconv.Itoa(n)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
	}
	return anchors
}

var linkText = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)

func slugify(title string) string {
	title = linkText.ReplaceAllString(title, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestSlugify(t *testing.T) {
	for title, want := range map[string]string{
		"Build images": "build-images",
		"Operations checklist: `kubectl multinic check`": "operations-checklist-kubectl-multinic-check",
		"`INVENTORY_DB_PATH` and the `.d` directory":     "inventory_db_path-and-the-d-directory",
		"한국어 (Korean)":                                   "한국어-korean",
		"[Link](x.md) text":                              "link-text",
	} {
		assert.Equal(t, want, slugify(title), title)
	}
	assert.Equal(t, map[string]bool{"a": true, "a-1": true, "b": true}, headingAnchors("# A\n```\n# not a heading\n```\n## A\n<a id=\"b\"></a>\n"))
}
