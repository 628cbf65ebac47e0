// Package fakes shows how to test your own code that uses multinic with the
// importable fakes: see fakes_test.go. NICReport stands in for your code.
package fakes

import (
	"context"
	"fmt"
	"sort"

	"github.com/multinic/multinic/multinic"
)

// NICReport runs one pass and summarises it per node, e.g. for a dashboard.
func NICReport(ctx context.Context, cfg multinic.Config) ([]string, error) {
	res, err := multinic.Sync(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, n := range res.Nodes {
		lines = append(lines, fmt.Sprintf("%s: %d NICs", n.NodeName, len(n.Interfaces)))
	}
	sort.Strings(lines)
	return lines, nil
}
