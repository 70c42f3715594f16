// Package strictyaml reads a configuration file that is one YAML document.
// yaml.Unmarshal and a single Decoder.Decode read the first document of a
// stream and ignore the rest, so a file that two files were concatenated
// into ("---" between them) silently lost its second half: a freeze window
// lifted, a check dropped from a gate, a judge setting not applied. A
// second document is refused instead.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// ErrManyDocuments is the error of a stream with more than one document.
var ErrManyDocuments = errors.New("holds more than one YAML document (a line \"---\" starts another); give one")

// Document parses data as one YAML document and returns its root node, nil
// for an empty stream or document. Empty documents after the first (a
// trailing "---") are ignored; a second one with content is refused. A
// syntax error is returned as yaml.v3 gives it.
func Document(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return nil, nil
	case err != nil:
		return nil, err
	}
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		switch {
		case errors.Is(err, io.EOF):
			return root(&doc), nil
		case err != nil:
			return nil, fmt.Errorf("%w: %v", ErrManyDocuments, err)
		case root(&next) != nil:
			return nil, ErrManyDocuments
		}
	}
}

// root is a document's content, nil when it is empty (an explicit null
// counts as content).
func root(doc *yaml.Node) *yaml.Node {
	if len(doc.Content) == 0 {
		return nil
	}
	n := doc.Content[0]
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "" && n.Style == 0 {
		return nil
	}
	return n
}
