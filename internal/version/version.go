// Package version tells which build of multinic is running: the version,
// commit and build date that `make build`/`make images` stamp into the
// binaries with -ldflags -X, else what the Go toolchain recorded (the module
// version of `go install …@v1.2.3`, and the vcs.* settings of a build from a
// git checkout).
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"time"
)

// Set with -ldflags "-X github.com/multinic/multinic/internal/version.version=v1.2.3 …".
// The build date is the commit time, so that one commit gives one binary.
var (
	version   string
	revision  string
	buildDate string
)

// Info describes a build. Unknown fields are "unknown", never empty, so
// that log lines and metric labels keep their shape.
type Info struct {
	Version   string // release tag, or the module version Go recorded
	Revision  string // full commit hash
	Modified  bool   // built from a tree with uncommitted changes
	BuildDate string // RFC 3339, UTC; the commit time
	GoVersion string
	Platform  string // GOOS/GOARCH
}

// Get returns this binary's build information.
func Get() Info {
	info := Info{Version: version, Revision: revision, BuildDate: buildDate, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		info = fromBuildInfo(info, bi)
	}
	for _, field := range []*string{&info.Version, &info.Revision, &info.BuildDate} {
		if *field == "" {
			*field = "unknown"
		}
	}
	return info
}

// fromBuildInfo fills what -ldflags left empty from the toolchain's record.
func fromBuildInfo(info Info, bi *debug.BuildInfo) Info {
	if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if info.Revision == "" {
				info.Revision = s.Value
			}
		case "vcs.time":
			if info.BuildDate == "" {
				info.BuildDate = s.Value
			}
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	if t, err := time.Parse(time.RFC3339, info.BuildDate); err == nil {
		info.BuildDate = t.UTC().Format(time.RFC3339)
	}
	return info
}

// String is the one line `--version` prints, e.g.
// "multinic-operator v0.1.0 (commit 0123abc…, built 2026-01-02T03:04:05Z, go1.26.8 linux/amd64)".
func (i Info) String(program string) string {
	commit := i.Revision
	if i.Modified {
		commit += ", modified"
	}
	return fmt.Sprintf("%s %s (commit %s, built %s, %s %s)", program, i.Version, commit, i.BuildDate, i.GoVersion, i.Platform)
}

// KeysAndValues are the fields for a structured log line at start.
func (i Info) KeysAndValues() []any {
	return []any{"version", i.Version, "revision", i.Revision, "modified", i.Modified, "buildDate", i.BuildDate, "goVersion", i.GoVersion}
}
