package main

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/version"
)

func TestRegisterBuildInfo(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, registerBuildInfo(reg, version.Info{Version: "v1.2.3", Revision: "abc", GoVersion: "go1.26.8"}))
	want := `
# HELP multinic_build_info Build of the running multinic operator; always 1.
# TYPE multinic_build_info gauge
multinic_build_info{goversion="go1.26.8",revision="abc",version="v1.2.3"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "multinic_build_info"))
	assert.Error(t, registerBuildInfo(reg, version.Info{}), "a second registration is refused, not silently doubled")
}

func TestVersionFlagNeedsNoEnvironment(t *testing.T) {
	opts, err := parseOptions([]string{"--version"}, func(string) string { return "not-valid" })
	require.NoError(t, err, "--version answers even where VIOLA_TIMEOUT and friends are wrong")
	assert.True(t, opts.showVersion)
}
