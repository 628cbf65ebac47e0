package inventory

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// Environment variables read by SettingsFromEnv and their defaults.
const (
	EnvEnabled = "INVENTORY_ENABLED"
	EnvAddr    = "INVENTORY_ADDR"
	EnvPath    = "INVENTORY_DB_PATH"

	DefaultAddr = ":18081"
	DefaultPath = "/var/lib/multinic-operator/inventory.json"
)

// Settings is how the operator runs the inventory.
type Settings struct {
	Enabled bool
	// Addr is the listen address of the HTTP API.
	Addr string
	// Path is the inventory file.
	Path string
}

// SettingsFromEnv reads the inventory settings through getenv (os.Getenv in
// the operator). Unset or blank variables take their defaults, because Helm
// and kustomize commonly render optional values as empty strings.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	s := Settings{Enabled: true, Addr: DefaultAddr, Path: DefaultPath}
	var errs []error
	if v := strings.TrimSpace(getenv(EnvEnabled)); v != "" {
		enabled, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q is not a boolean (use true or false)", EnvEnabled, v))
		}
		s.Enabled = enabled
	}
	if v := strings.TrimSpace(getenv(EnvAddr)); v != "" {
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("%s=%q is not a listen address like %q", EnvAddr, v, DefaultAddr))
		}
		s.Addr = v
	}
	if v := strings.TrimSpace(getenv(EnvPath)); v != "" {
		if strings.HasSuffix(v, "/") || strings.HasSuffix(v, string(os.PathSeparator)) {
			errs = append(errs, fmt.Errorf("%s=%q names a directory; it must name the inventory file", EnvPath, v))
		}
		s.Path = v
	}
	if len(errs) > 0 {
		return Settings{}, errors.Join(errs...)
	}
	return s, nil
}
