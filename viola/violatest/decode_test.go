package violatest

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzDecodeConfigs checks that decodeConfigs, which tries a one-pass decode
// first, answers exactly as the item-by-item decoder: the same configs or the
// same error message.
func FuzzDecodeConfigs(f *testing.F) {
	iface := `{"id":0,"name":"multinic0","macAddress":"fa:16:3e:aa:bb:cc","mtu":1450}`
	for _, seed := range []string{
		`[]`, `[null]`, `[{}]`, `[1]`, `["x"]`, `[[]]`, `[true]`, `[{"nodeName":"a"}] x`, `[{"nodeName":"a"}]]`,
		`[{"nodeName":"n","instanceId":"i","interfaces":[` + iface + `]}]`,
		`[{"nodeName":"n","interfaces":[` + iface + `]},null]`,
		`[{"nodeName":"n","interfaces":[` + iface + `]}, 3]`,
		`[{},{"nodeName":"n","interfaces":[` + iface + `]}]`,
		`[{"nodeName":"n","interfaces":[{"id":"0"}]}, {"nodeName":5}]`,
		`[{"nodeName":"n","interfaces":null}]`, `[{"interfaces":[]}]`, `[{"interfaces":{}}]`,
		`[{"NODENAME":"upper","nodeName":"dup","interfaces":[` + iface + `],"extra":1}]`,
		`[{"nodeName":null,"instanceId":null,"interfaces":[` + iface + `]}]`,
		`[{"nodeName":"n","interfaces":[{"id":1e400}]}]`, "[{\"nodeName\":\"bad\xff\"}]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) == 0 || body[0] != '[' {
			return // decodeConfigs rejects these before either decoder runs
		}
		got, gotErr := decodeConfigs(body, nil)
		want, wantErr := decodeConfigsStrict(bytes.TrimSpace(body))
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Fatalf("%q: error %v, strict decoder says %v", body, gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: configs %#v, strict decoder gives %#v", body, got, want)
		}
	})
}
