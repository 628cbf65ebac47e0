package inventory

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/renameio/v2"
)

// On disk, the inventory at path is a small marker file naming a directory
// beside it that holds one shard file per routing key (providerId):
//
//	inventory.json      {"version":2,"shards":"inventory.json.d"}
//	inventory.json.d/   prov-a-<hash>.json  {"version":2,"providerId":"prov-a","records":[…]}
//
// A write replaces only the shards of the keys it changed, so a round of
// passes over every CR writes each Biz cluster's records about once instead
// of the whole fleet once per pass; every file is still written whole and
// atomically (temporary file, fsync, rename).
//
// Version 1 was a single file holding every record, and files without a
// version come from the first operator, whose layout was the same. Open
// migrates both to shards; ReadFile still reads them. An operator that reads
// only version 1 refuses the marker as written by a newer operator rather
// than starting empty and handing out interface names again.
const (
	singleFileVersion = 1
	fileVersion       = 2
)

// markerContent is the file at the inventory's path: version 2 names the
// shard directory, version 1 carries the records itself.
type markerContent struct {
	Version int      `json:"version"`
	Shards  string   `json:"shards,omitempty"`
	Records []Record `json:"records,omitempty"`
}

// shardContent is one routing key's file: its records and the key itself,
// which must also name the file, so a file renamed or copied by hand is
// refused instead of being loaded under the wrong key.
type shardContent struct {
	Version    int      `json:"version"`
	ProviderID string   `json:"providerId"`
	Records    []Record `json:"records"`
}

// layout is what the file at the inventory's path says: the shard directory
// (version 2) or the records of a single file (version 1).
type layout struct {
	version  int
	shardDir string
	records  []Record
}

// shardDirFor is where Open puts the shards of a new or migrated inventory.
func shardDirFor(path string) string { return path + ".d" }

// readLayout reads the file at path. A missing file matches os.ErrNotExist;
// an empty file is an empty single-file inventory.
func readLayout(path string) (layout, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return layout{}, fmt.Errorf("read inventory file: %w", err)
	}
	return decodeMarker(data, path)
}

// decodeMarker parses the content of the file at the inventory's path.
func decodeMarker(data []byte, path string) (layout, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return layout{version: singleFileVersion}, nil
	}
	var content markerContent
	if err := json.Unmarshal(data, &content); err != nil {
		return layout{}, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	if err := checkVersion(content.Version, path); err != nil {
		return layout{}, err
	}
	if content.Version <= singleFileVersion {
		records, err := checkRecords(content.Records, path, "")
		return layout{version: singleFileVersion, records: records}, err
	}
	name := content.Shards
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`+"\x00") || name == filepath.Base(path) {
		return layout{}, fmt.Errorf("%w: %s: shards %q is not the name of a directory beside it", ErrCorrupt, path, name)
	}
	if len(content.Records) > 0 {
		return layout{}, fmt.Errorf("%w: %s: version %d keeps records in its shards, not in this file", ErrCorrupt, path, content.Version)
	}
	return layout{version: content.Version, shardDir: filepath.Join(filepath.Dir(path), name)}, nil
}

func checkVersion(version int, path string) error {
	if version > fileVersion {
		return fmt.Errorf("inventory file %s has version %d, this build reads up to version %d; it was written by a newer operator",
			path, version, fileVersion)
	}
	if version < 0 {
		return fmt.Errorf("%w: %s: version %d is negative", ErrCorrupt, path, version)
	}
	return nil
}

// decodeShard parses the shard file at path and returns its routing key and
// records.
func decodeShard(data []byte, path string) (string, []Record, error) {
	var content shardContent
	if err := json.Unmarshal(data, &content); err != nil {
		return "", nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	if err := checkVersion(content.Version, path); err != nil {
		return "", nil, err
	}
	if content.Version < fileVersion {
		return "", nil, fmt.Errorf("%w: %s: a shard has version %d, want %d", ErrCorrupt, path, content.Version, fileVersion)
	}
	if content.ProviderID == "" {
		return "", nil, fmt.Errorf("%w: %s: lacks providerId", ErrCorrupt, path)
	}
	if want := shardFileName(content.ProviderID); filepath.Base(path) != want {
		return "", nil, fmt.Errorf("%w: %s: holds providerId %q, whose shard is named %s", ErrCorrupt, path, content.ProviderID, want)
	}
	records, err := checkRecords(content.Records, path, content.ProviderID)
	return content.ProviderID, records, err
}

// checkRecords refuses records without a key, repeated, or (in a shard)
// under another key than providerID.
func checkRecords(records []Record, path, providerID string) ([]Record, error) {
	seen := make(map[recordKey]bool, len(records))
	for i := range records {
		rec := &records[i]
		if rec.ProviderID == "" || rec.NodeName == "" {
			return nil, fmt.Errorf("%w: %s: records[%d] lacks providerId or nodeName", ErrCorrupt, path, i)
		}
		if providerID != "" && rec.ProviderID != providerID {
			return nil, fmt.Errorf("%w: %s: records[%d] has providerId %q in the shard of %q", ErrCorrupt, path, i, rec.ProviderID, providerID)
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
	return records, nil
}

// shardNameMax bounds the readable part of a shard's name, leaving room for
// the hash within any file system's 255-byte limit.
const shardNameMax = 48

// shardFileName is the file of providerID's shard: a readable prefix of the
// key with anything outside [A-Za-z0-9._-] replaced, then 128 bits of its
// SHA-256, so any string (slashes, dots, "..", control bytes, kilobytes)
// gives a distinct, safe name that is never hidden and never a temporary
// file's. Two keys sharing a file would take a SHA-256 collision.
func shardFileName(providerID string) string {
	prefix := make([]byte, 0, shardNameMax)
	for _, r := range providerID {
		if len(prefix) == shardNameMax {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			prefix = append(prefix, byte(r))
		case r == '.' && len(prefix) > 0:
			prefix = append(prefix, '.')
		default:
			prefix = append(prefix, '_')
		}
	}
	sum := sha256.Sum256([]byte(providerID))
	return string(prefix) + "-" + hex.EncodeToString(sum[:16]) + ".json"
}

// isShardFileName tells the shards in a shard directory from what else may
// lie there: temporary files (hidden) and quarantined shards (renamed).
func isShardFileName(name string) bool {
	return strings.HasSuffix(name, ".json") && !strings.HasPrefix(name, ".")
}

// readShards loads every shard in dir. corrupt decides about a corrupt
// shard: return the error to fail, or nil to leave the shard out (after
// moving it aside). A missing dir matches os.ErrNotExist.
func readShards(dir string, corrupt func(path string, err error) error) ([]Record, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read inventory shard directory: %w", err)
	}
	var all []Record
	for _, e := range entries {
		if !isShardFileName(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read inventory shard: %w", err)
		}
		_, records, err := decodeShard(data, path)
		if errors.Is(err, ErrCorrupt) {
			err = corrupt(path, err)
		}
		if err != nil {
			return nil, err
		}
		all = append(all, records...)
	}
	return all, nil
}

// writeShard replaces providerID's shard in dir with sh, or removes it when
// sh holds no record, and returns the bytes written.
func writeShard(dir, providerID string, sh *shard) (int, error) {
	path := filepath.Join(dir, shardFileName(providerID))
	if sh == nil || len(sh.records) == 0 {
		err := os.Remove(path)
		if errors.Is(err, os.ErrNotExist) {
			// A shard removed by hand is as good as removed, but a lost
			// directory (the volume went away) fails like any write would.
			_, err = os.Stat(dir)
		}
		if err != nil {
			return 0, fmt.Errorf("remove inventory shard of providerId %q: %w", providerID, err)
		}
		syncDir(dir)
		return 0, nil
	}
	data := sh.encode(providerID)
	if err := replaceFile(path, data); err != nil {
		return 0, fmt.Errorf("write inventory shard of providerId %q: %w", providerID, err)
	}
	syncDir(dir)
	return len(data), nil
}

// writeMarker replaces the file at path with the marker naming shardDir.
func writeMarker(path, shardDir string) error {
	data, _ := json.Marshal(markerContent{Version: fileVersion, Shards: filepath.Base(shardDir)})
	if err := replaceFile(path, append(data, '\n')); err != nil {
		return fmt.Errorf("write inventory file %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// makeShardDir creates dir, durably: a marker naming it must never reach
// the disk before it does.
func makeShardDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create inventory shard directory: %w", err)
	}
	syncDir(filepath.Dir(dir))
	return nil
}

// migrate turns the single-file inventory at path into shards. Every shard
// is written and made durable before the marker replaces the file, so a
// crash at any step leaves the old file in place and the next Open starts
// over: shards already written are rewritten with the same content, and
// shards the file does not hold (left by an earlier, interrupted migration
// of other content) are removed. step, when set, runs after each step; a
// test fails it to stop there as a crash would.
func migrate(path string, snap *snapshot, step func(string) error) (string, error) {
	if step == nil {
		step = func(string) error { return nil }
	}
	dir := shardDirFor(path)
	if err := makeShardDir(dir); err != nil {
		return "", err
	}
	if err := step("shard directory created"); err != nil {
		return "", err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("migrate inventory file %s: %w", path, err)
	}
	keep := make(map[string]bool, len(snap.providers))
	for _, id := range snap.providers {
		keep[shardFileName(id)] = true
	}
	for _, e := range entries {
		if isShardFileName(e.Name()) && e.Type().IsRegular() && !keep[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return "", fmt.Errorf("migrate inventory file %s: remove a shard of an interrupted migration: %w", path, err)
			}
		}
	}
	for _, id := range snap.providers {
		shardPath := filepath.Join(dir, shardFileName(id))
		if err := replaceFile(shardPath, snap.byID[id].encode(id)); err != nil {
			return "", fmt.Errorf("migrate inventory file %s: write shard %s: %w", path, shardPath, err)
		}
		if err := step("shard written"); err != nil {
			return "", err
		}
	}
	syncDir(dir)
	if err := step("shards durable"); err != nil {
		return "", err
	}
	return dir, writeMarker(path, dir)
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

// syncDir makes a rename or removal in dir survive a power loss. Its failure
// is ignored on purpose: the new content is already in place and visible,
// so reporting an error would make the caller believe the write did not
// happen, and the next write repeats the rename anyway.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// removeStaleTempFiles deletes the temporary files that a crash between
// create and rename left in dir (renameio names them "." + the target's
// base name + random digits), so a crash-looping operator cannot slowly fill
// the volume. isTarget tells which base names are ours.
func removeStaleTempFiles(dir string, isTarget func(base string) bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		hidden, ok := strings.CutPrefix(e.Name(), ".")
		base := strings.TrimRight(hidden, "0123456789")
		if ok && base != hidden && isTarget(base) && e.Type().IsRegular() {
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
