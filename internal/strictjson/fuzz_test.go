package strictjson

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzCheck: Check never panics and accepts only what encoding/json accepts.
func FuzzCheck(f *testing.F) {
	for _, seed := range []string{`{}`, `{"a":1,"A":2}`, `{"a":{"b":[1,{"c":null}]}}`, "{\"k\":1,\"\u212a\":2}", `[[[]]]`, `{"a":1}{}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Check(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("Check accepted invalid JSON %q", data)
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("Check accepted %q, encoding/json refused it: %v", data, err)
		}
	})
}
