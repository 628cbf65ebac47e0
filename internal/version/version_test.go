package version

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFromBuildInfoFillsWhatLdflagsLeftEmpty(t *testing.T) {
	bi := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/multinic/multinic", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-03-04T14:05:06+09:00"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	got := fromBuildInfo(Info{}, bi)
	assert.Equal(t, "v1.2.3", got.Version)
	assert.Equal(t, "0123456789abcdef0123456789abcdef01234567", got.Revision)
	assert.Equal(t, "2026-03-04T05:05:06Z", got.BuildDate, "normalised to UTC")
	assert.True(t, got.Modified)

	stamped := fromBuildInfo(Info{Version: "v2.0.0", Revision: "feed", BuildDate: "2026-01-01T00:00:00Z"}, bi)
	assert.Equal(t, "v2.0.0", stamped.Version, "-ldflags win over the module version")
	assert.Equal(t, "feed", stamped.Revision)
	assert.Equal(t, "2026-01-01T00:00:00Z", stamped.BuildDate)
}

func TestFromBuildInfoIgnoresDevelVersion(t *testing.T) {
	got := fromBuildInfo(Info{}, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}})
	assert.Empty(t, got.Version, "(devel) says nothing; Get turns empty into unknown")
}

func TestGetNeverReturnsEmptyFields(t *testing.T) {
	// A test binary has no vcs settings and no ldflags.
	info := Get()
	for name, v := range map[string]string{"version": info.Version, "revision": info.Revision, "buildDate": info.BuildDate, "goVersion": info.GoVersion} {
		assert.NotEmpty(t, v, name)
	}
	assert.Contains(t, info.String("prog"), "prog "+info.Version+" (commit "+info.Revision+", built "+info.BuildDate)
}

func TestStringMarksModifiedTrees(t *testing.T) {
	i := Info{Version: "v1", Revision: "abc", Modified: true, BuildDate: "d", GoVersion: "go1.26", Platform: "linux/arm64"}
	assert.Equal(t, "op v1 (commit abc, modified, built d, go1.26 linux/arm64)", i.String("op"))
}
