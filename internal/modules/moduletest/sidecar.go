package moduletest

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/testenv"
)

// fragmentName is the doc fragment every module's documentation extends:
// the metrics_textfile and pushgateway_url options of observe.Options.
const fragmentName = "threader.guard.observability"

// fragmentPath is where the fragment is, relative to the repository root.
var fragmentPath = filepath.Join("plugins", "doc_fragments", "observability.py")

// docOption is an option as ansible-doc's YAML describes it.
type docOption struct {
	Type        string               `yaml:"type"`
	Elements    string               `yaml:"elements"`
	Default     any                  `yaml:"default"`
	Choices     []any                `yaml:"choices"`
	Required    bool                 `yaml:"required"`
	Description any                  `yaml:"description"`
	Suboptions  map[string]docOption `yaml:"suboptions"`
}

// CheckSidecarDoc checks a module's sidecar documentation (doc, a path
// relative to the repository root such as plugins/modules/qos_guard.yml,
// or an absolute one)
// against prog: the sidecar is what ansible-doc shows and what users read,
// so it must describe exactly the options prog.Spec accepts.
//
// It checks that DOCUMENTATION names the module and extends the
// observability fragment; that the documented options, with the
// fragment's merged in as ansible-doc merges them, are the spec's, with
// the same type, elements, required, default and choices, a description
// each, and the same suboptions, recursively; that RETURN has each of
// returns; and that EXAMPLES is a YAML list of tasks.
func CheckSidecarDoc(t testing.TB, prog ansiblemod.Program, doc string, returns ...string) {
	t.Helper()
	path := doc
	if !filepath.IsAbs(path) {
		path = filepath.Join(testenv.RepoRoot(), doc)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sidecar struct {
		Documentation struct {
			Module    string               `yaml:"module"`
			Options   map[string]docOption `yaml:"options"`
			Fragments []string             `yaml:"extends_documentation_fragment"`
		} `yaml:"DOCUMENTATION"`
		Examples string         `yaml:"EXAMPLES"`
		Return   map[string]any `yaml:"RETURN"`
	}
	if err := yaml.Unmarshal(data, &sidecar); err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	if sidecar.Documentation.Module != prog.Name {
		t.Errorf("%s: module %q, want %q", doc, sidecar.Documentation.Module, prog.Name)
	}
	if !slices.Contains(sidecar.Documentation.Fragments, fragmentName) {
		t.Errorf("%s: extends_documentation_fragment %v lacks %s (metrics_textfile, pushgateway_url)", doc, sidecar.Documentation.Fragments, fragmentName)
	}
	options := sidecar.Documentation.Options
	if options == nil {
		options = map[string]docOption{}
	}
	for name, o := range fragmentOptions(t) {
		options[name] = o
	}
	compareOptions(t, "", options, prog.Spec.Options)
	for _, key := range returns {
		if _, ok := sidecar.Return[key]; !ok {
			t.Errorf("%s: RETURN lacks %s", doc, key)
		}
	}
	var examples []map[string]any
	if err := yaml.Unmarshal([]byte(sidecar.Examples), &examples); err != nil || len(examples) == 0 {
		t.Errorf("%s: EXAMPLES is not a YAML list of tasks: %v", doc, err)
	}
}

// compareOptions checks documented options against spec options; prefix
// ("checks.") says whose suboptions they are.
func compareOptions(t testing.TB, prefix string, doc map[string]docOption, spec map[string]ansiblemod.Option) {
	t.Helper()
	if docNames, specNames := slices.Sorted(maps.Keys(doc)), slices.Sorted(maps.Keys(spec)); !slices.Equal(docNames, specNames) {
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

// fragmentOptions reads the options of the observability doc fragment
// (YAML in a Python string).
func fragmentOptions(t testing.TB) map[string]docOption {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), fragmentPath))
	if err != nil {
		t.Fatal(err)
	}
	_, text, ok := strings.Cut(string(data), `DOCUMENTATION = r"""`)
	text, _, ok2 := strings.Cut(text, `"""`)
	if !ok || !ok2 {
		t.Fatalf(`%s: no DOCUMENTATION = r"""..."""`, fragmentPath)
	}
	var frag struct {
		Options map[string]docOption `yaml:"options"`
	}
	if err := yaml.Unmarshal([]byte(text), &frag); err != nil {
		t.Fatalf("%s DOCUMENTATION: %v", fragmentPath, err)
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
