package ansiblemod

import (
	"encoding/json"
	"sort"
	"strings"
)

// Masks used by Ansible's remove_values, kept verbatim so users recognise them.
const (
	noLogPlaceholder = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
	noLogSubstring   = "********"
)

// Masker hides no_log values the way Ansible's remove_values does: a string
// equal to a secret is replaced whole, a secret inside a string is starred
// out, and a number whose text contains a secret is replaced whole.
type Masker struct{ secrets []string }

// NewMasker returns a masker for the given secret values; empty ones are ignored.
func NewMasker(secrets ...string) *Masker {
	m := &Masker{}
	m.Add(secrets...)
	return m
}

// Add registers more secret values.
func (m *Masker) Add(secrets ...string) {
	known := map[string]bool{}
	for _, s := range m.secrets {
		known[s] = true
	}
	for _, s := range secrets {
		if s != "" && !known[s] {
			known[s] = true
			m.secrets = append(m.secrets, s)
		}
	}
	// Longest first, so a secret that contains another is starred out whole.
	sort.SliceStable(m.secrets, func(i, j int) bool { return len(m.secrets[i]) > len(m.secrets[j]) })
}

// String masks one string.
func (m *Masker) String(s string) string {
	if m == nil {
		return s
	}
	for _, secret := range m.secrets {
		if s == secret {
			return noLogPlaceholder
		}
	}
	for _, secret := range m.secrets {
		s = strings.ReplaceAll(s, secret, noLogSubstring)
	}
	return s
}

// Value masks a value recursively, as Ansible's remove_values does: strings
// are masked, numbers whose text contains a secret are replaced whole,
// booleans and nil are kept, and so are map keys. Any other value (a struct,
// a typed map or slice) is first turned into its JSON shape, so nothing
// escapes masking; it comes back in that shape.
func (m *Masker) Value(v any) any {
	if m == nil || len(m.secrets) == 0 {
		return v
	}
	switch x := v.(type) {
	case nil, bool:
		return x
	case string:
		return m.String(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = m.Value(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = m.String(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = m.Value(e)
		}
		return out
	case int, int64, float64, json.Number:
		text := pyStr(x)
		for _, secret := range m.secrets {
			if strings.Contains(text, secret) {
				return noLogPlaceholder
			}
		}
		return x
	}
	shaped, err := plain(v)
	if err != nil {
		return noLogPlaceholder // cannot look inside it, so do not show it
	}
	return m.Value(shaped)
}
