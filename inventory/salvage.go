package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Salvage is a damaged single-file inventory (version 1, or the first
// operator's) that Open migrated under QuarantineCorrupt keeping what it
// could: every record that decodes, has its key and does not repeat one.
// Moving the whole file aside would lose every node's interface-name
// history at upgrade for one bad record.
type Salvage struct {
	// File is the damaged file, now the inventory's marker.
	File string
	// CopiedTo holds the damaged file as it was, byte for byte; Quarantined
	// lists it too.
	CopiedTo string
	// Kept is how many records were migrated.
	Kept int
	// Problems says what was left out and why, e.g. "records[517] lacks
	// providerId or nodeName".
	Problems []string
}

// maxSalvageProblems bounds the problems a Salvage lists one by one.
const maxSalvageProblems = 20

// salvageSingleFile reads what it can of a damaged single file: its
// records one by one, so a bad one costs itself only, up to where the JSON
// breaks off, if it does. ok is false for a file that is not recognisably a
// single file (not an object, a newer version, no records list): it is then
// quarantined whole, as before.
func salvageSingleFile(data []byte) (records []Record, problems []string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, false
	}
	sawRecords := false
	note := func(format string, args ...any) {
		if len(problems) == maxSalvageProblems {
			problems = append(problems, "and more")
		}
		if len(problems) < maxSalvageProblems {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for dec.More() {
		tok, err := dec.Token()
		key, isKey := tok.(string)
		if err != nil || !isKey {
			break
		}
		switch key {
		case "version":
			var version int
			if err := dec.Decode(&version); err != nil || version > singleFileVersion || version < 0 {
				return nil, nil, false
			}
		case "records":
			if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
				return nil, nil, false
			}
			sawRecords = true
			seen := map[recordKey]int{} // key → index in records
			for i := 0; dec.More(); i++ {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					note("records[%d] and everything after it: the file breaks off (%v)", i, err)
					return records, problems, true
				}
				var rec Record
				if err := json.Unmarshal(raw, &rec); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
					note("records[%d] is not a record: %v", i, cmpErr(err, "null"))
					continue
				}
				if rec.ProviderID == "" || rec.NodeName == "" {
					note("records[%d] lacks providerId or nodeName", i)
					continue
				}
				rec.LastConfigHash = ConfigHash(rec.Config) // as checkRecords does
				k := recordKey{rec.ProviderID, rec.NodeName}
				if j, dup := seen[k]; dup {
					// The one sent last is what the node has.
					if rec.UpdatedAt.After(records[j].UpdatedAt) {
						records[j] = rec
					}
					note("records[%d] repeats providerId %q nodeName %q; the newer record is kept", i, rec.ProviderID, rec.NodeName)
					continue
				}
				seen[k] = len(records)
				records = append(records, rec)
			}
			if _, err := dec.Token(); err != nil { // the closing ]
				note("the file breaks off after its records (%v)", err)
				return records, problems, true
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				note("the file breaks off (%v)", err)
				return salvaged(sawRecords, records, problems)
			}
		}
	}
	return salvaged(sawRecords, records, problems)
}

// salvaged is salvageSingleFile's answer once the file's object ends or
// breaks off: a file without a records list was not a single file.
func salvaged(sawRecords bool, records []Record, problems []string) ([]Record, []string, bool) {
	if !sawRecords {
		return nil, nil, false
	}
	return records, problems, true
}

func cmpErr(err error, otherwise string) string {
	if err != nil {
		return err.Error()
	}
	return otherwise
}

// copyAside writes data, the damaged file at path, to a new
// "<path>.corrupt-<UTC time>" (numbered like quarantineFile's when taken)
// durably, and returns its name. The damaged file stays in place until the
// migration replaces it, so a crash in between loses nothing.
func copyAside(path string, data []byte, now time.Time) (string, error) {
	base := path + ".corrupt-" + now.UTC().Format("20060102T150405.000000000Z")
	for n := 0; n < 100; n++ {
		target := base
		if n > 0 {
			target = fmt.Sprintf("%s-%d", base, n)
		}
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("copy damaged inventory file aside: %w", err)
		}
		_, err = f.Write(data)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(target)
			return "", fmt.Errorf("copy damaged inventory file aside: %w", err)
		}
		syncDir(filepath.Dir(path))
		return target, nil
	}
	return "", fmt.Errorf("copy damaged inventory file %s aside: %s and 99 numbered variants already exist", path, base)
}
