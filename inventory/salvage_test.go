package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// singleFileOf is a version 1 inventory of n records under two routing
// keys, each record encoded as the operator of that version wrote it;
// damage may replace or cut the encoded records.
func singleFileOf(t *testing.T, n int, damage func(records []string) []string) (data []byte, keys []string) {
	t.Helper()
	clk := newClock()
	var encoded []string
	for i := range n {
		provider := fmt.Sprintf("prov-%d", i%2)
		cfg := node(fmt.Sprintf("worker-%04d", i), fmt.Sprintf("vm-%04d", i), fmt.Sprintf("fa:16:3e:00:%02x:%02x", i/256, i%256))
		raw, err := json.Marshal(Record{ProviderID: provider, NodeName: cfg.NodeName, InstanceID: cfg.InstanceID, Config: cfg, LastConfigHash: ConfigHash(cfg), UpdatedAt: clk.Now()})
		require.NoError(t, err)
		encoded = append(encoded, string(raw))
		keys = append(keys, provider+"/"+cfg.NodeName)
	}
	body := `{"version":1,"records":[` + strings.Join(damage(encoded), ",") + `]}`
	return []byte(body), keys
}

// Issue 20.8: one bad record in a version 1 inventory moved the whole file
// aside at upgrade, 0 of 1000 records kept, and every node's interface
// names were handed out anew. Under QuarantineCorrupt the migration keeps
// every good record, sets the damaged file aside whole as evidence, and
// reports what it left out.
func TestMigrationKeepsEveryGoodRecordOfADamagedSingleFile(t *testing.T) {
	const n, bad = 1000, 517
	for _, tt := range []struct {
		name    string
		damage  func(records []string) []string
		lost    []int // records left out
		problem string
	}{
		{"a record without its key", func(r []string) []string {
			r[bad] = strings.Replace(r[bad], `"providerId":"prov-1",`, ``, 1)
			return r
		}, []int{bad}, fmt.Sprintf("records[%d] lacks providerId or nodeName", bad)},
		{"a record of the wrong types", func(r []string) []string {
			r[bad] = `{"providerId":"prov-1","nodeName":"worker-0517","config":"multinic0","updatedAt":42}`
			return r
		}, []int{bad}, fmt.Sprintf("records[%d]", bad)},
		{"a record that is not an object", func(r []string) []string {
			r[bad] = `null`
			return r
		}, []int{bad}, fmt.Sprintf("records[%d]", bad)},
		{"a repeated key", func(r []string) []string {
			r[bad] = r[bad-2] // same provider, an older record of worker-0515
			return r
		}, []int{bad}, fmt.Sprintf("records[%d] repeats", bad)},
		{"a file cut off in its last record", func(r []string) []string {
			r[n-1] = r[n-1][:len(r[n-1])/2]
			return r
		}, []int{n - 1}, fmt.Sprintf("records[%d]", n-1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "inventory.json")
			data, keys := singleFileOf(t, n, tt.damage)
			if tt.name == "a file cut off in its last record" {
				data = data[:len(data)-2] // and the closing brackets
			}
			require.NoError(t, os.WriteFile(path, data, 0o600))

			_, err := Open(path)
			require.ErrorIs(t, err, ErrCorrupt, "without QuarantineCorrupt the caller decides")
			require.Equal(t, string(data), string(must(os.ReadFile(path))), "and nothing is changed")

			s, err := Open(path, QuarantineCorrupt(), WithClock(newClock().Now))
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, s.Close()) })
			want := keys
			for _, i := range tt.lost {
				want = append(want[:i:i], want[i+1:]...)
			}
			if tt.name == "a repeated key" {
				want = keys[:bad] // worker-0517's place went to a second worker-0515
				want = append(want[:bad:bad], keys[bad+1:]...)
			}
			assert.ElementsMatch(t, want, keysOf(s.List(Filter{})), "every good record is kept")
			assert.Len(t, s.List(Filter{}), n-len(tt.lost))

			report := s.Salvaged()
			require.Len(t, report, 1)
			assert.Equal(t, path, report[0].File)
			assert.Equal(t, n-len(tt.lost), report[0].Kept)
			require.NotEmpty(t, report[0].Problems)
			assert.Contains(t, strings.Join(report[0].Problems, "; "), tt.problem)
			assert.Equal(t, string(data), string(must(os.ReadFile(report[0].CopiedTo))), "the damaged file is kept whole, as evidence")
			assert.Contains(t, s.Quarantined(), report[0].CopiedTo)

			require.NoError(t, s.Close())
			reopened, err := Open(path, QuarantineCorrupt())
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, reopened.Close()) })
			assert.Empty(t, reopened.Salvaged(), "migrated: nothing left to salvage")
			assert.Len(t, reopened.List(Filter{}), n-len(tt.lost))
		})
	}
}

// A crash after the damaged file was copied aside, before the migration
// finished, leaves the damaged file in place: the next Open salvages it
// again, and nothing good is lost.
func TestSalvageSurvivesACrashDuringTheMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.json")
	data, _ := singleFileOf(t, 10, func(r []string) []string { r[3] = "7"; return r })
	require.NoError(t, os.WriteFile(path, data, 0o600))
	_, err := Open(path, QuarantineCorrupt(), crashMigrationAt(2))
	require.ErrorContains(t, err, "simulated crash")
	assert.Equal(t, string(data), string(must(os.ReadFile(path))))

	s, err := Open(path, QuarantineCorrupt())
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	assert.Len(t, s.List(Filter{}), 9)
}

// A file whose records cannot be told apart at all (not JSON from the
// start, or a broken marker of the shard layout) is still moved aside whole.
func TestUnsalvageableFilesAreQuarantinedWhole(t *testing.T) {
	for _, content := range []string{`garbage`, `{"records":`, `{"version":2,"shar`} {
		path := filepath.Join(t.TempDir(), "inventory.json")
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		s, err := Open(path, QuarantineCorrupt())
		require.NoError(t, err, content)
		assert.Empty(t, s.Salvaged(), content)
		assert.Len(t, s.Quarantined(), 1, content)
		assert.NoFileExists(t, path+".corrupt-never")
		require.NoError(t, s.Close())
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// FuzzSalvageSingleFile: whatever a damaged single file holds, salvage
// never panics, keeps only records with their key and each key once, and
// keeps every record of a file that is not damaged at all.
func FuzzSalvageSingleFile(f *testing.F) {
	for _, seed := range []string{
		`{"version":1,"records":[]}`, `{"records":[{"providerId":"p","nodeName":"n"}]}`,
		`{"version":1,"records":[{"providerId":"p","nodeName":"n"},null,7,{"providerId":"p","nodeName":"n"}]}`,
		`{"version":1,"records":[{"providerId":"p","nodeName":"n"},{"providerId":"p","nod`, `{"version":1,"records":{}}`,
		`{"version":"1","records":[]}`, `{"x":[1,{"y":2}],"records":[{"providerId":"p","nodeName":"n","config":{"interfaces":"x"}}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		records, problems, ok := salvageSingleFile(data)
		if !ok {
			return
		}
		assert.LessOrEqual(t, len(problems), maxSalvageProblems+1)
		seen := map[recordKey]bool{}
		for _, rec := range records {
			require.NotEmpty(t, rec.ProviderID)
			require.NotEmpty(t, rec.NodeName)
			k := recordKey{rec.ProviderID, rec.NodeName}
			require.False(t, seen[k], "key %v kept twice", k)
			seen[k] = true
		}
		if lay, err := decodeMarker(data, "inventory.json"); err == nil && lay.version == singleFileVersion && len(bytes.TrimSpace(data)) > 0 {
			assert.Len(t, records, len(lay.records), "an undamaged file is kept whole")
			assert.Empty(t, problems)
		}
	})
}
