package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/renameio/v2"
)

// fileVersion is the layout written by this package. Files without a version
// come from the first operator, whose layout is the same apart from the
// missing field, so they are read as version 1.
const fileVersion = 1

type fileContent struct {
	Version int      `json:"version"`
	Records []Record `json:"records"`
}

// readFile loads the records stored at path. A missing file is reported with
// an error matching os.ErrNotExist; an empty file is an empty inventory.
func readFile(path string) ([]Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory file: %w", err)
	}
	return decodeFile(data, path)
}

// decodeFile parses the content of the inventory file at path.
func decodeFile(data []byte, path string) ([]Record, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var content fileContent
	if err := json.Unmarshal(data, &content); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	if content.Version > fileVersion {
		return nil, fmt.Errorf("inventory file %s has version %d, this build reads up to version %d; it was written by a newer operator",
			path, content.Version, fileVersion)
	}
	if content.Version < 0 {
		return nil, fmt.Errorf("%w: %s: version %d is negative", ErrCorrupt, path, content.Version)
	}
	seen := make(map[recordKey]bool, len(content.Records))
	for i := range content.Records {
		rec := &content.Records[i]
		if rec.ProviderID == "" || rec.NodeName == "" {
			return nil, fmt.Errorf("%w: %s: records[%d] lacks providerId or nodeName", ErrCorrupt, path, i)
		}
		key := recordKey{rec.ProviderID, rec.NodeName}
		if seen[key] {
			return nil, fmt.Errorf("%w: %s: records[%d] repeats providerId %q nodeName %q", ErrCorrupt, path, i, rec.ProviderID, rec.NodeName)
		}
		seen[key] = true
		// Recomputed so the hash always matches this build's ConfigHash; a
		// file from an operator that hashed differently would otherwise make
		// every node look changed forever.
		rec.LastConfigHash = ConfigHash(rec.Config)
	}
	return content.Records, nil
}

// writeSnapshot replaces the file at path with snap: a temporary file in the
// same directory is written, fsynced and renamed over path, so readers and a
// crash see either the old or the new file. It returns the bytes written.
func writeSnapshot(path string, snap *snapshot) (int, error) {
	data := snap.encodeFile()
	if err := replaceFile(path, data); err != nil {
		return 0, fmt.Errorf("write inventory file %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return len(data), nil
}

// replaceFile is renameio.WriteFile without its WithExistingPermissions: that
// keeps the mode of the file being replaced, so a file once created
// world-readable (by hand, or by an older tool) would stay so. The records
// name every node and instance, so the file is always 0600.
func replaceFile(path string, data []byte) error {
	// The temporary file goes next to the target so the rename never crosses
	// file systems (the target is usually on a PVC, /tmp is not).
	f, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(0o600))
	if err != nil {
		return err
	}
	defer func() { _ = f.Cleanup() }()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.CloseAtomicallyReplace()
}

// syncDir makes the rename itself survive a power loss. Its failure is
// ignored on purpose: the new content is already in place and visible, so
// reporting an error would make the caller believe the write did not happen,
// and the next write repeats the rename anyway.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// removeStaleTempFiles deletes temporary files that a crash between create and
// rename left behind (renameio names them "." + base name + random digits), so
// a crash-looping operator cannot slowly fill the volume.
func removeStaleTempFiles(path string) {
	dir, prefix := filepath.Dir(path), "."+filepath.Base(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		suffix, ok := strings.CutPrefix(e.Name(), prefix)
		if ok && suffix != "" && strings.Trim(suffix, "0123456789") == "" && e.Type().IsRegular() {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// quarantineFile renames the corrupt file at path to
// "<path>.corrupt-<UTC time>" and returns the new name. An existing file of
// that name (two quarantines within the clock's resolution, or a clock fixed
// by a test) is never replaced: a counter is appended instead, because
// os.Rename would silently overwrite the earlier evidence.
func quarantineFile(path string, now time.Time) (string, error) {
	base := path + ".corrupt-" + now.UTC().Format("20060102T150405.000000000Z")
	for n := 0; n < 100; n++ {
		target := base
		if n > 0 {
			target = fmt.Sprintf("%s-%d", base, n)
		}
		if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.Rename(path, target); err != nil {
			return "", fmt.Errorf("quarantine inventory file: %w", err)
		}
		syncDir(filepath.Dir(path))
		return target, nil
	}
	return "", fmt.Errorf("quarantine inventory file %s: %s and 99 numbered variants already exist", path, base)
}
