package strictyaml

import (
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzDocument: Document never panics, and what it accepts is what
// yaml.Unmarshal reads as the first document.
func FuzzDocument(f *testing.F) {
	for _, seed := range []string{"a: 1\n", "a: 1\n---\nb: 2\n", "---\n---\n", "a: &x [1]\nb: *x\n", "- [\n", "a: 1\n...\n---\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Document(data)
		if err != nil {
			return
		}
		var first yaml.Node
		if uerr := yaml.Unmarshal(data, &first); uerr != nil {
			t.Fatalf("Document accepted %q, yaml.Unmarshal refused it: %v", data, uerr)
		}
		if n != nil && (len(first.Content) == 0 || first.Content[0].Kind != n.Kind) {
			t.Fatalf("Document(%q) = kind %v, yaml.Unmarshal read %+v", data, n.Kind, first)
		}
	})
}
