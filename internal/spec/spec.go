package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Error is a problem at a place in a spec file. Its text is
// "file:line:col: field "field": msg", or without the field part when the
// problem is not about one field (malformed YAML, empty file).
type Error struct {
	File      string
	Line, Col int    // 1-based; 0 when unknown
	Field     string // YAML path without the leading "$.", e.g. "cases[0].n"
	Msg       string
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	b.WriteString(": ")
	if e.Field != "" {
		fmt.Fprintf(&b, "field %q: ", e.Field)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Decode decodes the YAML document data, read from path, into v (a pointer
// to a struct with `yaml` tags). Unknown fields, type mismatches, duplicate
// keys, malformed YAML and an empty document are errors of type *Error
// naming path, the line and column, and the field where there is one.
func Decode(path string, data []byte, v any) (err error) {
	// A decoder bug must not take the harness down with a bad spec.
	defer func() {
		if r := recover(); r != nil {
			err = &Error{File: path, Msg: fmt.Sprintf("cannot decode: %v", r)}
		}
	}()
	if len(bytes.TrimSpace(data)) == 0 {
		return &Error{File: path, Line: 1, Col: 1, Msg: "empty spec"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data), yaml.DisallowUnknownField())
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return &Error{File: path, Line: 1, Col: 1, Msg: "empty spec (no YAML document)"}
		}
		return convert(path, data, err)
	}
	return nil
}

// convert turns a go-yaml error into an *Error, finding the field of the
// offending token in the parsed document.
func convert(path string, data []byte, err error) error {
	var ye yaml.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil {
		return &Error{File: path, Msg: err.Error()}
	}
	tk := ye.GetToken()
	e := &Error{File: path, Line: tk.Position.Line, Col: tk.Position.Column, Msg: ye.GetMessage()}
	var te *yaml.TypeError
	if errors.As(err, &te) && te.SrcType != nil && te.DstType != nil {
		e.Msg = fmt.Sprintf("cannot unmarshal %s into %s", te.SrcType, te.DstType)
	}
	var se *yaml.SyntaxError
	if !errors.As(err, &se) {
		e.Field = fieldAt(data, tk)
	}
	return e
}

// fieldAt returns the YAML path (without "$.") of the node of data at tk's
// position, or "" if there is none.
func fieldAt(data []byte, tk *token.Token) string {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return ""
	}
	var found string
	for _, doc := range f.Docs {
		if doc.Body == nil {
			continue
		}
		ast.Walk(visitor(func(n ast.Node) bool {
			t := n.GetToken()
			if t != nil && t.Position.Line == tk.Position.Line && t.Position.Column == tk.Position.Column {
				found = n.GetPath()
				return false
			}
			return found == ""
		}), doc.Body)
		if found != "" {
			break
		}
	}
	return trimRoot(found)
}

// visitor adapts a function to ast.Visitor; it stops descending when the
// function returns false.
type visitor func(ast.Node) bool

func (v visitor) Visit(n ast.Node) ast.Visitor {
	if v(n) {
		return v
	}
	return nil
}

func trimRoot(p string) string {
	p = strings.TrimPrefix(p, "$")
	return strings.TrimPrefix(p, ".")
}
