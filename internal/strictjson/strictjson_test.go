package strictjson

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDuplicateAndCaseVariantKeysAreRefused(t *testing.T) {
	for doc, want := range map[string]string{
		`{"status":"error","status":"success"}`:                  `duplicate key "status" in the object at $`,
		`{"status":"error","Status":"success"}`:                  `keys "status" and "Status" in the object at $ differ only in case`,
		`{"data":{"resultType":"vector","RESULTTYPE":"scalar"}}`: `keys "resultType" and "RESULTTYPE" in the object at $.data differ only in case`,
		`{"a":[{"x":1},{"x":1,"X":2}]}`:                          `keys "x" and "X" in the object at $.a[1] differ only in case`,
		"{\"kind\":1,\"\u212aind\":2}":                           "keys \"kind\" and \"\u212aind\" in the object at $ differ only in case",
		`{"m":{"a b":{"k":1,"k":2}}}`:                            `duplicate key "k" in the object at $.m["a b"]`,
		`{"expires":"\u0031","expires":1}`:                       `duplicate key "expires" in the object at $`,
		`{"st\u0061tus":"error","status":"success"}`:             `duplicate key "status" in the object at $`,
	} {
		err := Check([]byte(doc))
		var dup *DuplicateKeyError
		if !errors.As(err, &dup) || err.Error() != want {
			t.Errorf("%s: got %v, want %s", doc, err, want)
		}
		var v map[string]any
		if err := Unmarshal([]byte(doc), &v); err == nil {
			t.Errorf("%s: Unmarshal accepted it", doc)
		}
	}
}

// The Kelvin sign case is what makes a plain strings.ToLower insufficient:
// encoding/json really does match it to "kind".
func TestEncodingJSONReallyMergesTheseKeys(t *testing.T) {
	var v struct{ Kind int }
	if err := json.Unmarshal([]byte("{\"kind\":1,\"\u212aind\":2}"), &v); err != nil || v.Kind != 2 {
		t.Fatalf("encoding/json changed: %v %+v", err, v)
	}
}

func TestValidDocumentsPass(t *testing.T) {
	for _, doc := range []string{
		`{}`, `[]`, `1`, `"s"`, `null`, ` {"a":1} `,
		`{"a":{"x":1},"b":{"x":1}}`, // equal keys in different objects
		`[{"x":1},{"x":2}]`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a","Job":"b"},"value":[1,"1"]}]}}`[0:0] + `{"a":1,"b":2}`,
		`{"é":1,"e":2}`, // different letters, not case variants
	} {
		if err := Check([]byte(doc)); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
}

func TestSyntaxErrorsAndTrailingDataAreRefused(t *testing.T) {
	for _, doc := range []string{``, `{`, `{"a":}`, `{"a":1}{"b":2}`, `{"a":1} x`, `[1,]`, `{"a" 1}`, `{1:2}`} {
		if err := Check([]byte(doc)); err == nil {
			t.Errorf("%q accepted", doc)
		}
	}
}

func TestDepthIsBounded(t *testing.T) {
	ok := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if err := Check([]byte(ok)); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	deep := "[" + ok + "]"
	if err := Check([]byte(deep)); !errors.Is(err, ErrTooDeep) {
		t.Errorf("depth %d: %v", MaxDepth+1, err)
	}
}

func TestFoldMatchesEqualFold(t *testing.T) {
	pairs := [][2]string{{"K", "k"}, {"K", "\u212a"}, {"s", "\u017f"}, {"Σ", "σ"}, {"σ", "ς"}, {"ǅ", "ǆ"}, {"a", "b"}, {"é", "E"}}
	for _, p := range pairs {
		if got, want := Fold(p[0]) == Fold(p[1]), strings.EqualFold(p[0], p[1]); got != want {
			t.Errorf("%q %q: Fold equal %v, EqualFold %v", p[0], p[1], got, want)
		}
	}
}

func TestCaseSensitiveMapsRefuseOnlyExactDuplicates(t *testing.T) {
	opts := Options{CaseSensitiveUnder: []string{"metric"}}
	labels := `{"data":{"result":[{"metric":{"job":"a","Job":"b"},"value":[1,"1"]}]}}`
	if err := CheckWith([]byte(labels), opts); err != nil {
		t.Errorf("two labels refused: %v", err)
	}
	if err := Check([]byte(labels)); err == nil {
		t.Error("Check without options accepted case variants")
	}
	for _, doc := range []string{
		`{"data":{"result":[{"metric":{"job":"a","job":"b"}}]}}`,
		`{"data":{"result":[{"metric":{"job":"a"},"Metric":{"job":"b"}}]}}`, // the field names stay case-insensitive
		`{"metric":{"nested":{"a":1,"A":2}}}`,                               // only the map itself is relaxed
	} {
		if err := CheckWith([]byte(doc), opts); err == nil {
			t.Errorf("%s accepted", doc)
		}
	}
}
