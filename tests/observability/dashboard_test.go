package observability

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/threader/guard/internal/testenv"
)

type gridPos struct{ H, W, X, Y int }

type dashTarget struct {
	RefID      string         `json:"refId"`
	Expr       string         `json:"expr"`
	Datasource map[string]any `json:"datasource"`
}

type dashPanel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	GridPos    *gridPos       `json:"gridPos"`
	Datasource map[string]any `json:"datasource"`
	Targets    []dashTarget   `json:"targets"`
	Panels     []dashPanel    `json:"panels"` // collapsed rows
}

type dashboard struct {
	UID           string      `json:"uid"`
	Title         string      `json:"title"`
	SchemaVersion int         `json:"schemaVersion"`
	Panels        []dashPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Query      any    `json:"query"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name string `json:"name"`
			Expr string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
}

// dashboardQuery is one PromQL expression of the dashboard and where it is.
type dashboardQuery struct {
	Where string
	Expr  string // as written, with Grafana variables
	// MustReturnData is true for panel queries: on the end-to-end data every
	// panel has something to show.
	MustReturnData bool
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s is not valid dashboard JSON: %v", dashboardFile, err)
	}
	return d
}

var labelValuesRE = regexp.MustCompile(`^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// dashboardQueries lists every PromQL expression: panel targets,
// annotation queries and the selectors inside label_values() variables.
func dashboardQueries(t *testing.T, d dashboard) []dashboardQuery {
	t.Helper()
	var qs []dashboardQuery
	var walk func([]dashPanel)
	walk = func(panels []dashPanel) {
		for _, p := range panels {
			for _, tg := range p.Targets {
				qs = append(qs, dashboardQuery{fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, tg.RefID), tg.Expr, true})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			qs = append(qs, dashboardQuery{fmt.Sprintf("annotation %q", a.Name), a.Expr, false})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValuesRE.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: definition %q is not label_values(selector, label)", v.Name, v.Definition)
			continue
		}
		qs = append(qs, dashboardQuery{fmt.Sprintf("variable %s", v.Name), m[1], true})
	}
	return qs
}

var grafanaVarRE = regexp.MustCompile(`\$\{([a-zA-Z0-9_]+)(?::[a-z]+)?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)|\[\[([a-zA-Z0-9_]+)\]\]`)

// expandGrafanaVars replaces Grafana's variables the way Grafana would for
// "All" (regex .*) and its interval macros by a fixed duration, giving the
// PromQL Prometheus receives. Unknown variables are reported.
func expandGrafanaVars(expr string, defined map[string]bool) (string, []string) {
	var unknown []string
	out := grafanaVarRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVarRE.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		switch {
		case name == "__rate_interval" || name == "__interval" || name == "__range":
			return "5m"
		case defined[name]:
			return ".*"
		}
		unknown = append(unknown, name)
		return m
	})
	return out, unknown
}

func definedVars(d dashboard) map[string]bool {
	defined := map[string]bool{}
	for _, v := range d.Templating.List {
		defined[v.Name] = true
	}
	return defined
}

// TestDashboardStructure checks what Grafana needs to import the dashboard
// and what keeps it usable: a stable uid, unique panel ids, panels on the
// 24-column grid without overlaps, every query on the ${datasource}
// variable, known variables and documented metrics only.
func TestDashboardStructure(t *testing.T) {
	d := loadDashboard(t)
	if d.UID != "threader-guard" || d.Title == "" || d.SchemaVersion < 36 {
		t.Errorf("uid %q title %q schemaVersion %d: want uid threader-guard, a title, schemaVersion >= 36", d.UID, d.Title, d.SchemaVersion)
	}
	defined := definedVars(d)
	if !defined["datasource"] {
		t.Error("no datasource variable: the dashboard would be tied to one Prometheus")
	}
	ids := map[int]bool{}
	var boxes []gridPos
	types := map[string]int{}
	var walk func([]dashPanel)
	walk = func(panels []dashPanel) {
		for _, p := range panels {
			where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
			if p.ID == 0 || ids[p.ID] {
				t.Errorf("%s: id missing or duplicated", where)
			}
			ids[p.ID] = true
			types[p.Type]++
			if p.Type == "" || p.Title == "" || p.GridPos == nil {
				t.Errorf("%s: needs type, title and gridPos", where)
				continue
			}
			g := *p.GridPos
			if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
				t.Errorf("%s: gridPos %+v is off the 24-column grid", where, g)
			}
			for _, b := range boxes {
				if g.X < b.X+b.W && b.X < g.X+g.W && g.Y < b.Y+b.H && b.Y < g.Y+g.H {
					t.Errorf("%s: gridPos %+v overlaps %+v", where, g, b)
				}
			}
			boxes = append(boxes, g)
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no queries", where)
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				if tg.RefID == "" || refs[tg.RefID] || strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s: target %q has an empty expr or a missing/duplicate refId", where, tg.RefID)
				}
				refs[tg.RefID] = true
				if tg.Datasource["uid"] != "${datasource}" || tg.Datasource["type"] != "prometheus" {
					t.Errorf("%s target %s: datasource %v, want the ${datasource} variable", where, tg.RefID, tg.Datasource)
				}
			}
		}
	}
	walk(d.Panels)
	for _, typ := range []string{"row", "stat", "timeseries", "state-timeline", "table"} {
		if types[typ] == 0 {
			t.Errorf("no %s panel", typ)
		}
	}
	known := knownMetrics(t)
	for _, q := range dashboardQueries(t, d) {
		if _, unknown := expandGrafanaVars(q.Expr, defined); len(unknown) > 0 {
			t.Errorf("%s uses undefined variables %v", q.Where, unknown)
		}
		for _, m := range metricNameRE.FindAllString(q.Expr, -1) {
			if !known[m] {
				t.Errorf("%s uses %s, which is not a documented metric", q.Where, m)
			}
		}
	}
	// Every section of the issue is on the dashboard.
	all := ""
	for _, q := range dashboardQueries(t, d) {
		all += q.Expr + "\n"
	}
	for _, m := range []string{"threader_guard_locked", "threader_guard_retry_attempts", "threader_guard_slo_check_passed", "threader_guard_rollback_last_outcome"} {
		if !strings.Contains(all, m) {
			t.Errorf("the dashboard shows nothing from %s", m)
		}
	}
}

// TestDashboardQueriesParse parses every expression with the Prometheus
// parser, as shipped in Debian's promtool: the expressions become recording
// rules of a temporary file and `promtool check rules` parses them. (promtool
// 2.42 has no stand-alone PromQL parse command, and importing the Prometheus
// parser in Go would pull in most of Prometheus; the end-to-end test also
// runs every query against a real Prometheus.)
func TestDashboardQueriesParse(t *testing.T) {
	d := loadDashboard(t)
	defined := definedVars(d)
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	queries := dashboardQueries(t, d)
	for i, q := range queries {
		expr, _ := expandGrafanaVars(q.Expr, defined)
		rules = append(rules, rule{Record: fmt.Sprintf("dashboard_query_%d", i), Expr: expr})
	}
	data, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := testenv.Run(t, nil, promtool(t), "check", "rules", path)
	if code != 0 {
		// Map promtool's rule numbers back to panels.
		for i, q := range queries {
			if strings.Contains(out, fmt.Sprintf("\"dashboard_query_%d\"", i)) {
				t.Logf("query %d is %s: %s", i, q.Where, q.Expr)
			}
		}
		t.Fatalf("a dashboard query does not parse:\n%s", out)
	}
	if want := fmt.Sprintf("SUCCESS: %d rules found", len(queries)); !strings.Contains(out, want) {
		t.Errorf("promtool check rules: want %q in\n%s", want, out)
	}
}
