package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// The inventory's environment variables and their defaults: how the
// operator runs the inventory is the operator's business, not the
// inventory package's.
const (
	envInventoryEnabled = "INVENTORY_ENABLED"
	envInventoryAddr    = "INVENTORY_ADDR"
	envInventoryPath    = "INVENTORY_DB_PATH"

	defaultInventoryAddr = ":18081"
	defaultInventoryPath = "/var/lib/multinic-operator/inventory.json"
)

// inventorySettings is how the operator runs the inventory.
type inventorySettings struct {
	Enabled bool
	// Addr is the listen address of the HTTP API.
	Addr string
	// Path is the inventory file.
	Path string
}

// inventorySettingsFromEnv reads the inventory settings through getenv.
// Unset or blank variables take their defaults, because Helm and kustomize
// commonly render optional values as empty strings.
func inventorySettingsFromEnv(getenv func(string) string) (inventorySettings, error) {
	s := inventorySettings{Enabled: true, Addr: defaultInventoryAddr, Path: defaultInventoryPath}
	var errs []error
	if v := strings.TrimSpace(getenv(envInventoryEnabled)); v != "" {
		enabled, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q is not a boolean (use true or false)", envInventoryEnabled, v))
		}
		s.Enabled = enabled
	}
	if v := strings.TrimSpace(getenv(envInventoryAddr)); v != "" {
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("%s=%q is not a listen address like %q", envInventoryAddr, v, defaultInventoryAddr))
		}
		s.Addr = v
	}
	if v := strings.TrimSpace(getenv(envInventoryPath)); v != "" {
		if strings.HasSuffix(v, "/") || strings.HasSuffix(v, string(os.PathSeparator)) {
			errs = append(errs, fmt.Errorf("%s=%q names a directory; it must name the inventory file", envInventoryPath, v))
		}
		s.Path = v
	}
	if len(errs) > 0 {
		return inventorySettings{}, errors.Join(errs...)
	}
	return s, nil
}
