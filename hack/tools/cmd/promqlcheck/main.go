// Command promqlcheck checks the PromQL that ships with the chart: every
// query of a Grafana dashboard and every expression of a Prometheus rules
// file must parse, and every metric it selects must be one the services
// really expose (an allow-list, one name a line). Alerting rules must also
// carry summary, description and runbook_url annotations, and with -runbook
// each runbook_url's #fragment must be a heading of that Markdown file.
//
//	promqlcheck -metrics metrics.txt [-runbook docs/runbook.md] FILE.json|FILE.yaml...
//
// A .json file is a Grafana dashboard (panels, nested row panels and
// template variables); a .yaml file is a rules file (groups:) or a
// PrometheusRule manifest (spec.groups:).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	yamlv3 "go.yaml.in/yaml/v3"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "promqlcheck:", err)
		os.Exit(1)
	}
}

func run() error {
	metricsFile := flag.String("metrics", "", "allow-list of metric names, one a line (# comments)")
	runbookFile := flag.String("runbook", "", "Markdown file whose headings the alerts' runbook_url fragments must name")
	flag.Parse()
	if *metricsFile == "" || flag.NArg() == 0 {
		return errors.New("usage: promqlcheck -metrics METRICS.txt [-runbook RUNBOOK.md] FILE...")
	}
	known, err := readAllowList(*metricsFile)
	if err != nil {
		return err
	}
	c := checker{known: known}
	if *runbookFile != "" {
		if c.anchors, err = readAnchors(*runbookFile); err != nil {
			return err
		}
	}
	for _, f := range flag.Args() {
		var qs []query
		switch filepath.Ext(f) {
		case ".json":
			qs, err = dashboardQueries(f)
		case ".yaml", ".yml":
			qs, err = ruleQueries(f)
		default:
			err = errors.New("neither .json (dashboard) nor .yaml (rules)")
		}
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", f, err)
		}
		if len(qs) == 0 {
			c.problems = append(c.problems, f+": no queries found")
		}
		for _, q := range qs {
			c.check(f, q)
		}
		c.queries += len(qs)
	}
	for _, p := range c.problems {
		fmt.Fprintln(os.Stderr, p)
	}
	fmt.Printf("promqlcheck: %d queries in %d files, %d problems\n", c.queries, flag.NArg(), len(c.problems))
	if len(c.problems) > 0 {
		return fmt.Errorf("%d problems", len(c.problems))
	}
	return nil
}

// query is one PromQL expression and where it came from.
type query struct {
	where string // e.g. panel "Orders created" (A), or alert OrderTrackingHigh5xxRatio
	expr  string
	// annotations of an alerting rule; nil for anything else.
	annotations map[string]string
}

type checker struct {
	known    map[string]bool
	anchors  map[string]bool // nil: runbook links are not checked
	problems []string
	queries  int
}

func (c *checker) check(file string, q query) {
	fail := func(format string, args ...any) {
		c.problems = append(c.problems, fmt.Sprintf("%s: %s: %s", file, q.where, fmt.Sprintf(format, args...)))
	}
	names, err := metricNames(q.expr)
	if err != nil {
		fail("%v", err)
	}
	for _, n := range names {
		if !c.known[n] {
			fail("metric %s is not exposed by the services (not in the allow-list)", n)
		}
	}
	if q.annotations == nil {
		return
	}
	for _, a := range []string{"summary", "description", "runbook_url"} {
		if strings.TrimSpace(q.annotations[a]) == "" {
			fail("annotation %s is missing", a)
		}
	}
	if c.anchors != nil && q.annotations["runbook_url"] != "" {
		u, err := url.Parse(q.annotations["runbook_url"])
		switch {
		case err != nil:
			fail("runbook_url: %v", err)
		case !c.anchors[u.Fragment]:
			fail("runbook_url fragment #%s is no heading of the runbook", u.Fragment)
		}
	}
}

// grafanaVar matches Grafana's variable syntaxes: $name, ${name},
// ${name:format} and [[name]].
var grafanaVar = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]`)

// substituteVars replaces Grafana's variables with values that parse where
// they are used: built-in intervals with a duration or a number of
// seconds, anything else (a label value or regex) with a plain word.
func substituteVars(expr string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
		name := grafanaVar.FindStringSubmatch(m)
		n := name[1] + name[2] + name[3]
		switch n {
		case "__rate_interval", "__interval", "__range":
			return "5m"
		case "__range_s", "__interval_s":
			return "300"
		case "__range_ms", "__interval_ms":
			return "300000"
		}
		return "x"
	})
}

// metricNames parses expr (after substituting Grafana variables) and
// returns the metric names it selects, sorted and unique.
func metricNames(expr string) ([]string, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("empty query")
	}
	node, err := parser.NewParser(parser.Options{}).ParseExpr(substituteVars(expr))
	if err != nil {
		return nil, fmt.Errorf("does not parse: %w", err)
	}
	var names []string
	var unnamed error
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if name == "" && m.Name == "__name__" && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name == "" {
			unnamed = fmt.Errorf("selector %s names no metric", vs)
			return nil
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		return nil
	})
	slices.Sort(names)
	return names, unnamed
}

// labelValuesQuery matches the variable queries of Grafana's Prometheus
// data source whose argument is a PromQL expression.
var labelValuesQuery = regexp.MustCompile(`^\s*(?:label_values|query_result)\((.*?)(?:,\s*[A-Za-z_][A-Za-z0-9_]*)?\)\s*$`)

// dashboardQueries returns the queries of every panel (rows' nested panels
// included) and of every query variable.
func dashboardQueries(file string) ([]query, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var d struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	var qs []query
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, t := range p.Targets {
				qs = append(qs, query{where: fmt.Sprintf("panel %q (%s)", p.Title, t.RefID), expr: t.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		// The query is a string or {"query": "..."} depending on Grafana's version.
		var s string
		if json.Unmarshal(v.Query, &s) != nil {
			var o struct{ Query string }
			if err := json.Unmarshal(v.Query, &o); err != nil {
				return nil, fmt.Errorf("variable %s: %w", v.Name, err)
			}
			s = o.Query
		}
		m := labelValuesQuery.FindStringSubmatch(s)
		if m == nil || strings.TrimSpace(m[1]) == "" {
			continue // label_values(label) or label_names(): no metric involved
		}
		qs = append(qs, query{where: "variable " + v.Name, expr: m[1]})
	}
	return qs, nil
}

type panel struct {
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

type ruleGroups struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// ruleQueries returns the expressions of a rules file or of a
// PrometheusRule manifest.
func ruleQueries(file string) ([]query, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var doc struct {
		ruleGroups `yaml:",inline"`
		Kind       string     `yaml:"kind"`
		Spec       ruleGroups `yaml:"spec"`
	}
	if err := yamlv3.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	groups := doc.ruleGroups
	if doc.Kind == "PrometheusRule" {
		groups = doc.Spec
	}
	var qs []query
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			q := query{where: "record " + r.Record, expr: r.Expr}
			if r.Alert != "" {
				q.where = "alert " + r.Alert
				q.annotations = r.Annotations
				if q.annotations == nil {
					q.annotations = map[string]string{}
				}
			}
			qs = append(qs, q)
		}
	}
	return qs, nil
}

// readAllowList reads one metric name a line; blank lines and # comments
// are skipped.
func readAllowList(file string) (map[string]bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	known := map[string]bool{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line, _, _ := strings.Cut(s.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			known[line] = true
		}
	}
	return known, s.Err()
}

// heading matches a Markdown ATX heading.
var heading = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)

// readAnchors returns the anchors GitHub gives the headings of a Markdown
// file: lower case, spaces to hyphens, punctuation other than - and _ dropped.
func readAnchors(file string) (map[string]bool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	anchors := map[string]bool{}
	inFence := false
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
		}
		m := heading.FindStringSubmatch(line)
		if inFence || m == nil {
			continue
		}
		var a strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				a.WriteRune('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
				a.WriteRune(r)
			}
		}
		anchors[a.String()] = true
	}
	return anchors, nil
}
