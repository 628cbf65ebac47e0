// Command promql parses PromQL expressions with Prometheus' own parser and
// lists the metric names each one reads. The chart tests feed it the
// expressions of the PrometheusRule and the Grafana dashboard.
//
// It is a module of its own so that Prometheus' server module and its
// dependency versions stay out of the operator's go.mod: only this test tool
// needs the parser.
//
// Input (stdin): a JSON array of expressions. Output (stdout): a JSON array
// of {"expr", "metrics", "error"}, one per input, in order.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

type result struct {
	Expr    string   `json:"expr"`
	Metrics []string `json:"metrics"`
	Error   string   `json:"error,omitempty"`
}

func main() {
	var exprs []string
	if err := json.NewDecoder(os.Stdin).Decode(&exprs); err != nil {
		fmt.Fprintln(os.Stderr, "promql: read a JSON array of expressions from stdin:", err)
		os.Exit(2)
	}
	p := parser.NewParser(parser.Options{})
	out := make([]result, 0, len(exprs))
	for _, e := range exprs {
		r := result{Expr: e, Metrics: []string{}}
		ast, err := p.ParseExpr(e)
		if err != nil {
			r.Error = err.Error()
		} else {
			r.Metrics = metricNames(ast)
		}
		out = append(out, r)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "promql:", err)
		os.Exit(1)
	}
}

// metricNames are the names every vector selector of the expression asks
// for; a selector without one (a bare {job="x"}) yields "".
func metricNames(expr parser.Expr) []string {
	var names []string
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
		}
		names = append(names, name)
		return nil
	})
	slices.Sort(names)
	return slices.Compact(names)
}
