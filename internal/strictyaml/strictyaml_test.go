package strictyaml

import (
	"errors"
	"testing"
)

func TestDocument(t *testing.T) {
	for _, text := range []string{"a: 1\n", "---\na: 1\n", "---\na: 1\n...\n", "# only\na: [1, 2]\n"} {
		n, err := Document([]byte(text))
		if err != nil || n == nil || n.Content[0].Value != "a" {
			t.Errorf("%q: %v, %v", text, n, err)
		}
	}
	for _, text := range []string{"", "\n", "# nothing\n", "---\n"} {
		if n, err := Document([]byte(text)); err != nil || n != nil {
			t.Errorf("%q: %v, %v; want nil, nil", text, n, err)
		}
	}
	// The second half of two files put together used to be ignored.
	// Empty documents after the first drop nothing.
	for _, text := range []string{"a: 1\n---\n", "---\na: 1\n---\n---\n# end\n"} {
		if n, err := Document([]byte(text)); err != nil || n == nil {
			t.Errorf("%q: %v, %v", text, n, err)
		}
	}
	for _, text := range []string{"a: 1\n---\nb: 2\n", "a: 1\n---\n---\n- x\n", "a: 1\n---\nb: [\n", "a: 1\n---\nnull\n", "---\n---\nb: 2\n"} {
		if _, err := Document([]byte(text)); !errors.Is(err, ErrManyDocuments) {
			t.Errorf("%q: %v, want ErrManyDocuments", text, err)
		}
	}
	if _, err := Document([]byte("a: [\n")); err == nil || errors.Is(err, ErrManyDocuments) {
		t.Errorf("a syntax error: %v", err)
	}
}
