package jsonpath

import (
	"encoding/json"
	"strings"
	"testing"
)

func doc(t *testing.T, text string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSelect(t *testing.T) {
	d := doc(t, `{"data": {"ratio": 0.5, "items": [{"v": 1}, {"v": 2}], "error rate": 3, "a-b": true}}`)
	for path, want := range map[string]any{
		"$.data.ratio":            0.5,
		"$.data.items[1].v":       2.0,
		"$['data']['error rate']": 3.0,
		`$["data"].a-b`:           true,
	} {
		p, err := Parse(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		got, err := p.Select(d)
		if err != nil || got != want {
			t.Errorf("%s: %v %v", path, got, err)
		}
	}
	if p, _ := Parse("$"); p.String() != "$" {
		t.Error(p)
	}
}

func TestSelectMisses(t *testing.T) {
	d := doc(t, `{"data": {"ratio": 0.5, "items": [1]}}`)
	for path, want := range map[string]string{
		"$.data.rate":       `$['data'] has no member "rate"`,
		"$.data.items[3]":   `$['data']['items'] has 1 elements, so no element 3`,
		"$.data.ratio.x":    `$['data']['ratio'] is a number, not an object`,
		"$.data[0]":         `$['data'] is an object, not an array`,
		"$.data.items[0].a": `is a number, not an object`,
	} {
		p, err := Parse(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Select(d); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", path, err)
		}
	}
}

func TestParseRefusesOutsideTheSubset(t *testing.T) {
	for _, path := range []string{"", "data.x", "$.", "$..x", "$.*", "$[*]", "$[-1]", "$[0:2]", "$[01]", "$[?(@.x)]",
		"$['a'", "$['a\\'b']", "$.1abc", "$ .x", "$[99999999999999999999]", "$.a,b", "$[]"} {
		if _, err := Parse(path); err == nil {
			t.Errorf("%q parsed", path)
		}
	}
	if _, err := Parse("$" + strings.Repeat(".a", MaxSteps+1)); err == nil {
		t.Error("a path longer than MaxSteps parsed")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"$.data.ratio", "$['a b'][0]", "$..x", "$[01]", "$['", "$.a[2].b"} {
		f.Add(s)
	}
	d := map[string]any{"a": []any{1.0, map[string]any{"b": "x"}}}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		if p.String() != s {
			t.Errorf("String() = %q, want %q", p.String(), s)
		}
		p.Select(d) // must not panic
	})
}
