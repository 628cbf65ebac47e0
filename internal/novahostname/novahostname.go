// Package novahostname is Nova's rule for the host name it gives a server:
// the name the guest gets from Nova's metadata service and so, lower-cased,
// the name kubelet registers. multinic falls back to it when Nova does not
// show a server's OS-EXT-SRV-ATTR:hostname, and the OpenStack fake computes
// the attribute with it, as Nova does at create time.
package novahostname

import (
	"strings"
	"unicode"
)

// maxLength is Nova's cut: dnsmasq's 63, the lowest of the systems it names.
const maxLength = 63

// Sanitize is Nova's nova.utils.sanitize_hostname (nova/utils.py, read at
// Nova 33.0.0-373-g00a030403f; the function is unchanged since 23.0.0), step
// for step and in its order:
//
//  1. drop every character outside U+0000-U+00FF (encode latin-1, ignore);
//  2. cut to 63 characters, before any substitution;
//  3. turn ' ', '_' and '.' into '-';
//  4. drop every run of characters other than Python's \w, '.' and '-'
//     (\w is Unicode-aware: Latin-1 letters such as 'é' and digits such
//     as '²' survive, and then fail an RFC 1123 check);
//  5. lower-case, then strip '.' and '-' from both ends.
//
// Nova before 23.0.0 (Wallaby; commit 9046f0fff4 "utils: Remove periods from
// instance hostnames") kept the dots: there "node.example.com" stays
// "node.example.com". Sanitize follows current Nova; a cloud on an older one
// shows its own answer in OS-EXT-SRV-ATTR:hostname, which multinic prefers.
//
// The result may be empty (a name of only symbols); Nova then uses
// "Server-<uuid>" (see ForServer).
func Sanitize(name string) string {
	var b strings.Builder
	b.Grow(min(len(name), maxLength))
	kept := 0
	for _, r := range name {
		if r > 0xFF { // step 1
			continue
		}
		if kept == maxLength { // step 2
			break
		}
		kept++
		switch { // steps 3 and 4: a substituted '-' is never dropped
		case r == ' ' || r == '_' || r == '.':
			b.WriteByte('-')
		case isWord(r) || r == '-':
			b.WriteRune(unicode.ToLower(r)) // step 5, lower-case
		}
	}
	return strings.Trim(b.String(), ".-") // step 5, strip
}

// ForServer is the host name Nova gives a server created alone under name,
// with UUID id: Sanitize(name), or "Server-<id>" when that is empty (Nova's
// nova/compute/api.py API._populate_instance_names). Nova appends "-<n>" for
// the n-th server of a multi-create request, which a server's name does not
// tell; a hostname requested at create (microversion 2.90+) replaces it all.
func ForServer(name, id string) string {
	if h := Sanitize(name); h != "" {
		return h
	}
	return "Server-" + id
}

// isWord is Python 3's \w for a character of U+0000-U+00FF: '_' and what
// str.isalnum() accepts (letters, and digits or numerics such as '¹', '¼').
func isWord(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}
