package slocheck

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/testenv"
)

type docOption struct {
	Type        string               `yaml:"type"`
	Elements    string               `yaml:"elements"`
	Default     any                  `yaml:"default"`
	Choices     []any                `yaml:"choices"`
	Required    bool                 `yaml:"required"`
	Description any                  `yaml:"description"`
	Suboptions  map[string]docOption `yaml:"suboptions"`
}

// The sidecar documentation is what ansible-doc shows and what users read;
// it must describe exactly the options the module accepts.
func TestSidecarDocMatchesSpec(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "plugins", "modules", "slo_check.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Documentation struct {
			Module    string               `yaml:"module"`
			Options   map[string]docOption `yaml:"options"`
			Fragments []string             `yaml:"extends_documentation_fragment"`
		} `yaml:"DOCUMENTATION"`
		Examples string         `yaml:"EXAMPLES"`
		Return   map[string]any `yaml:"RETURN"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("slo_check.yml: %v", err)
	}
	if doc.Documentation.Module != "slo_check" {
		t.Errorf("module: %q", doc.Documentation.Module)
	}
	// ansible-doc adds the options of the shared fragment.
	if !slices.Contains(doc.Documentation.Fragments, "threader.guard.observability") {
		t.Errorf("extends_documentation_fragment %v lacks threader.guard.observability (metrics_textfile, pushgateway_url)", doc.Documentation.Fragments)
	}
	for name, o := range observabilityFragment(t) {
		doc.Documentation.Options[name] = o
	}
	compareOptions(t, "", doc.Documentation.Options, spec.Options)
	for _, key := range []string{"passed", "checks", "evaluations", "evaluated_at", "msg"} {
		if _, ok := doc.Return[key]; !ok {
			t.Errorf("RETURN lacks %s", key)
		}
	}
	var examples []map[string]any
	if err := yaml.Unmarshal([]byte(doc.Examples), &examples); err != nil || len(examples) == 0 {
		t.Errorf("EXAMPLES is not a YAML list of tasks: %v", err)
	}
}

func compareOptions(t *testing.T, prefix string, doc map[string]docOption, spec map[string]ansiblemod.Option) {
	t.Helper()
	var docNames, specNames []string
	for name := range doc {
		docNames = append(docNames, name)
	}
	for name := range spec {
		specNames = append(specNames, name)
	}
	sort.Strings(docNames)
	sort.Strings(specNames)
	if fmt.Sprint(docNames) != fmt.Sprint(specNames) {
		t.Fatalf("%sdocumented options %v, spec options %v", prefix, docNames, specNames)
	}
	for name, o := range spec {
		d := doc[name]
		typ := o.Type
		if typ == "" {
			typ = ansiblemod.Str
		}
		if d.Type != string(typ) || d.Elements != string(o.Elements) || d.Required != o.Required {
			t.Errorf("%s%s: documented type %s/%s required %v, spec %s/%s required %v", prefix, name, d.Type, d.Elements, d.Required, typ, o.Elements, o.Required)
		}
		if fmt.Sprint(numeric(d.Default)) != fmt.Sprint(numeric(o.Default)) {
			t.Errorf("%s%s: documented default %v, spec %v", prefix, name, d.Default, o.Default)
		}
		if fmt.Sprint(d.Choices) != fmt.Sprint(o.Choices) {
			t.Errorf("%s%s: documented choices %v, spec %v", prefix, name, d.Choices, o.Choices)
		}
		if d.Description == nil {
			t.Errorf("%s%s: no description", prefix, name)
		}
		if o.Options != nil {
			compareOptions(t, prefix+name+".", d.Suboptions, o.Options)
		}
	}
}

// observabilityFragment reads the options of the doc fragment
// plugins/doc_fragments/observability.py (YAML in a Python string).
func observabilityFragment(t *testing.T) map[string]docOption {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "plugins", "doc_fragments", "observability.py"))
	if err != nil {
		t.Fatal(err)
	}
	_, text, ok := strings.Cut(string(data), `DOCUMENTATION = r"""`)
	text, _, ok2 := strings.Cut(text, `"""`)
	if !ok || !ok2 {
		t.Fatal(`observability.py: no DOCUMENTATION = r"""..."""`)
	}
	var frag struct {
		Options map[string]docOption `yaml:"options"`
	}
	if err := yaml.Unmarshal([]byte(text), &frag); err != nil {
		t.Fatalf("observability.py DOCUMENTATION: %v", err)
	}
	return frag.Options
}

// numeric makes 5 and 5.0 compare equal.
func numeric(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	}
	return v
}
