package novahostname

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

// The expected values are what Nova's own sanitize_hostname returns for the
// input (Python 3.12, the function copied from nova/utils.py at
// 00a030403f), so a divergence of the port is a failing row.
func TestSanitizeMatchesNova(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Worker_2", "worker-2"},
		{"Worker 3", "worker-3"},
		{"node.example.com", "node-example-com"},
		{"ABC-1", "abc-1"},
		{strings.Repeat("a", 70), strings.Repeat("a", 63)},
		{"k8s-Worker-" + strings.Repeat("x", 60), "k8s-worker-" + strings.Repeat("x", 52)},
		{"..-_ lead", "lead"},
		{"trail_. ", "trail"},
		{"Ünïcode-Nöde", "ünïcode-nöde"},
		{"日本-node", "node"},
		{"¹²³¼", "¹²³¼"},
		{"a\u00a0b", "ab"},
		{"a!b@c#d", "abcd"},
		{"-.-", ""},
		{"", ""},
		// The cut comes before the substitutions, and counts what step 4
		// drops: the 63rd character is '_', turned into a '-' and stripped.
		{strings.Repeat("x", 62) + "_y", strings.Repeat("x", 62)},
		// Characters beyond Latin-1 go before the cut.
		{strings.Repeat("x", 62) + "日y", strings.Repeat("x", 62) + "y"},
		{"ﬁle", "le"},
		{"MiXeD.Case_Name 01", "mixed-case-name-01"},
		{"a--b", "a--b"},
		{"ſ", ""},
	} {
		assert.Equal(t, tt.want, Sanitize(tt.in), "Sanitize(%q)", tt.in)
	}
}

// Python's \w over U+0000-U+00FF, as re.findall(r'\w', every character)
// lists it.
func TestIsWordIsPythonsLatin1Word(t *testing.T) {
	const python = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyzª²³µ¹º¼½¾ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿ"
	var got strings.Builder
	for r := rune(0); r <= 0xFF; r++ {
		if isWord(r) {
			got.WriteRune(r)
		}
	}
	assert.Equal(t, python, got.String())
}

func TestForServer(t *testing.T) {
	assert.Equal(t, "worker-2", ForServer("Worker_2", "f0e1"))
	assert.Equal(t, "Server-f0e1", ForServer("!!!", "f0e1"), "Nova's default keeps its capital S")
}

func FuzzSanitize(f *testing.F) {
	f.Add("Worker_2")
	f.Add("node.example.com")
	f.Fuzz(func(t *testing.T, in string) {
		out := Sanitize(in)
		if utf8.RuneCountInString(out) > maxLength || !utf8.ValidString(out) {
			t.Fatalf("Sanitize(%q) = %q", in, out)
		}
		if strings.ContainsAny(out, " _.") || strings.HasPrefix(out, "-") || strings.HasSuffix(out, "-") {
			t.Fatalf("Sanitize(%q) = %q keeps what Nova replaces or strips", in, out)
		}
		if Sanitize(out) != out {
			t.Fatalf("Sanitize is not idempotent on %q: %q then %q", in, out, Sanitize(out))
		}
	})
}
