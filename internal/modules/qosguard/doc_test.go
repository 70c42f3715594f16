package qosguard

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

// The sidecar documentation is what ansible-doc shows and what users read;
// it must describe exactly the options the module accepts.
func TestSidecarDocMatchesSpec(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "plugins", "modules", "qos_guard.yml"))
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
		t.Fatalf("qos_guard.yml: %v", err)
	}
	if doc.Documentation.Module != "qos_guard" {
		t.Errorf("module: %q", doc.Documentation.Module)
	}
	// ansible-doc adds the options of the shared fragment.
	if !slices.Contains(doc.Documentation.Fragments, "threader.guard.observability") {
		t.Errorf("extends_documentation_fragment %v lacks threader.guard.observability (metrics_textfile, pushgateway_url)", doc.Documentation.Fragments)
	}
	for name, o := range observabilityFragment(t) {
		doc.Documentation.Options[name] = o
	}
	var docNames, specNames []string
	for name := range doc.Documentation.Options {
		docNames = append(docNames, name)
	}
	for name := range spec.Options {
		specNames = append(specNames, name)
	}
	sort.Strings(docNames)
	sort.Strings(specNames)
	if fmt.Sprint(docNames) != fmt.Sprint(specNames) {
		t.Fatalf("documented options %v, spec options %v", docNames, specNames)
	}
	for name, o := range spec.Options {
		d := doc.Documentation.Options[name]
		typ := o.Type
		if typ == "" {
			typ = ansiblemod.Str
		}
		if d.Type != string(typ) || d.Elements != string(o.Elements) || d.Required != o.Required {
			t.Errorf("%s: documented type %s/%s required %v, spec %s/%s required %v", name, d.Type, d.Elements, d.Required, typ, o.Elements, o.Required)
		}
		if fmt.Sprint(numeric(d.Default)) != fmt.Sprint(numeric(o.Default)) {
			t.Errorf("%s: documented default %v, spec %v", name, d.Default, o.Default)
		}
		if fmt.Sprint(d.Choices) != fmt.Sprint(o.Choices) {
			t.Errorf("%s: documented choices %v, spec %v", name, d.Choices, o.Choices)
		}
	}
	for _, key := range []string{"locked", "expires_at", "remaining_seconds", "locked_at", "reason", "owner", "host", "path", "format", "msg"} {
		if _, ok := doc.Return[key]; !ok {
			t.Errorf("RETURN lacks %s", key)
		}
	}
	if doc.Examples == "" {
		t.Error("no EXAMPLES")
	}
}

// docOption is an option as the documentation describes it.
type docOption struct {
	Type     string `yaml:"type"`
	Elements string `yaml:"elements"`
	Default  any    `yaml:"default"`
	Choices  []any  `yaml:"choices"`
	Required bool   `yaml:"required"`
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
