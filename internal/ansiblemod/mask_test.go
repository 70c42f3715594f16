package ansiblemod

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	placeholder = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
	stars       = "********"
)

func TestMaskerString(t *testing.T) {
	m := NewMasker("s3cret", "", "abc", "abcdef")
	for in, want := range map[string]string{
		"s3cret":              placeholder,
		"token s3cret here":   "token " + stars + " here",
		"s3crets3cret":        stars + stars,
		"xabcdefx":            "x" + stars + "x", // the longer secret wins
		"abc and abcdef":      stars + " and " + stars,
		"nothing to see":      "nothing to see",
		"":                    "",
		"S3CRET":              "S3CRET", // exact bytes, as in Ansible
		"abcdef":              placeholder,
		"pre-s3cret-abc-post": "pre-" + stars + "-" + stars + "-post",
	} {
		if got := m.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskerValue(t *testing.T) {
	m := NewMasker("s3cret", "4242")
	in := map[string]any{
		"exact":    "s3cret",
		"inside":   "Bearer s3cret",
		"number":   4242,
		"bigger":   142424,     // its text contains a secret
		"float":    4242.5,     // likewise
		"other":    17,         // kept
		"flag":     true,       // booleans are kept
		"none":     nil,        // kept
		"s3cret":   "key kept", // Ansible does not mask keys
		"list":     []any{"s3cret", 1, []any{"a s3cret"}},
		"strings":  []string{"s3cret", "ok"},
		"nested":   map[string]any{"deep": map[string]any{"v": "x-s3cret-y"}},
		"typed":    map[string]string{"v": "s3cret"},
		"struct":   struct{ Token string }{"s3cret"},
		"intslice": []int{4242, 7},
	}
	want := map[string]any{
		"exact":    placeholder,
		"inside":   "Bearer " + stars,
		"number":   placeholder,
		"bigger":   placeholder,
		"float":    placeholder,
		"other":    17,
		"flag":     true,
		"none":     nil,
		"s3cret":   "key kept",
		"list":     []any{placeholder, 1, []any{"a " + stars}},
		"strings":  []any{placeholder, "ok"},
		"nested":   map[string]any{"deep": map[string]any{"v": "x-" + stars + "-y"}},
		"typed":    map[string]any{"v": placeholder},
		"struct":   map[string]any{"Token": placeholder},
		"intslice": []any{placeholder, 7},
	}
	if diff := cmp.Diff(want, m.Value(in)); diff != "" {
		t.Fatalf("Value mismatch (-want +got):\n%s", diff)
	}
	if in["exact"] != "s3cret" {
		t.Fatal("Value modified its input")
	}
}

func TestMaskerWithoutSecrets(t *testing.T) {
	var nilMasker *Masker
	if got := nilMasker.String("x"); got != "x" {
		t.Errorf("nil masker String = %q", got)
	}
	if got := nilMasker.Value(map[string]any{"a": "x"}); !cmp.Equal(got, map[string]any{"a": "x"}) {
		t.Errorf("nil masker Value = %v", got)
	}
	empty := NewMasker("")
	if got := empty.String("anything"); got != "anything" {
		t.Errorf("masker with only an empty secret masked %q", got)
	}
}

func TestMaskerAddDeduplicates(t *testing.T) {
	m := NewMasker("a", "a")
	m.Add("a", "bb")
	if diff := cmp.Diff([]string{"bb", "a"}, m.secrets); diff != "" {
		t.Fatalf("secrets (-want +got):\n%s", diff)
	}
}
