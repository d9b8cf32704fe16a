package spec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// FieldError returns an *Error for a semantic problem with the field at
// yamlPath (e.g. "$.cases[0].n", or "cases[0].n" without the root) of the
// spec data read from path: "path:line:col: field "cases[0].n": msg". If the
// field is not in the document, the position is that of its nearest
// enclosing node that is, or absent.
func FieldError(path string, data []byte, yamlPath, msg string) error {
	field := trimRoot(yamlPath)
	e := &Error{File: path, Field: field, Msg: msg}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return e
	}
	for p := field; ; p = parent(p) {
		if n := find(f, p); n != nil {
			if tk := startToken(n); tk != nil {
				e.Line, e.Col = tk.Position.Line, tk.Position.Column
				return e
			}
		}
		if p == "" {
			return e
		}
	}
}

// Required checks that every field in yamlPaths is present in the spec
// data (read from path) and returns one error per missing field, joined,
// each naming the field and the line of its parent. Presence is textual:
// "n: 0" is present, a missing key is not; use it for fields whose zero
// value is a valid setting that must still be chosen explicitly.
func Required(path string, data []byte, yamlPaths ...string) error {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var errs []error
	for _, yp := range yamlPaths {
		if find(f, trimRoot(yp)) == nil {
			errs = append(errs, FieldError(path, data, yp, "required field missing"))
		}
	}
	return errors.Join(errs...)
}

// startToken returns the token where a node starts as a reader sees it: a
// mapping's token is the ':' of its first entry, so use that entry's key.
func startToken(n ast.Node) *token.Token {
	switch m := n.(type) {
	case *ast.MappingNode:
		if len(m.Values) > 0 && m.Values[0].Key != nil {
			return m.Values[0].Key.GetToken()
		}
	case *ast.MappingValueNode:
		if m.Key != nil {
			return m.Key.GetToken()
		}
	}
	return n.GetToken()
}

// find returns the node at the YAML path p (without "$."), or nil. The
// empty path is the document body.
func find(f *ast.File, p string) (n ast.Node) {
	defer func() {
		if recover() != nil {
			n = nil
		}
	}()
	if p == "" {
		for _, d := range f.Docs {
			if d.Body != nil {
				return d.Body
			}
		}
		return nil
	}
	yp, err := yaml.PathString("$." + p)
	if err != nil {
		return nil
	}
	n, err = yp.FilterFile(f)
	if err != nil {
		return nil
	}
	return n
}

// parent strips the last element of a YAML path: "a.b[2]" → "a.b",
// "a.b" → "a", "a" → "".
func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}
