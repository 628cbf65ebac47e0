package viola

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// isMAC and isDNSLabel replace the schema's patterns; they must accept
// exactly what the patterns accept.
func TestHandWrittenChecksMatchTheSchemaPatterns(t *testing.T) {
	mac := regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)
	label := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	inputs := []string{
		"", "fa:16:3e:aa:bb:cc", "FA:16:3E:AA:BB:CC", "fa:16:3e:aa:bb:c", "fa:16:3e:aa:bb:ccd", "fa-16-3e-aa-bb-cc",
		"fa:16:3e:aa:bb:cg", "fa:16:3e:aa:bb:cc\n", "fa:16:3e:aa:bbb:c", "fa:16:3e:aa::bbcc", "0123456789abcdef0",
		"a", "a-b", "-a", "a-", "worker-1", "Worker-1", "w_1", "1", "a--b", "é", "a b", strings.Repeat("a", 300),
	}
	for c := 0; c < 256; c++ {
		inputs = append(inputs, "fa:16:3e:aa:bb:c"+string(rune(c)), "a"+string(rune(c))+"b", string(rune(c)))
	}
	for _, in := range inputs {
		assert.Equal(t, mac.MatchString(in), isMAC(in), "MAC %q", in)
		assert.Equal(t, label.MatchString(in), isDNSLabel(in), "label %q", in)
	}
}

func FuzzHandWrittenChecks(f *testing.F) {
	mac := regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)
	label := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	f.Add("fa:16:3e:aa:bb:cc")
	f.Add("worker-1")
	f.Fuzz(func(t *testing.T, in string) {
		if mac.MatchString(in) != isMAC(in) || label.MatchString(in) != isDNSLabel(in) {
			t.Fatalf("%q: MAC %v/%v, label %v/%v", in, mac.MatchString(in), isMAC(in), label.MatchString(in), isDNSLabel(in))
		}
	})
}
