package spec

import "fmt"

// Source is a decoded spec's file name and bytes, kept so that the semantic
// checks an experiment runs after decoding can name the line of the field
// they refuse.
type Source struct {
	// Path is the file name errors start with.
	Path string
	data []byte
}

// Parse decodes data strictly into v (see Decode), then checks that every
// field in required (YAML paths such as "$.seed") is present (see Required).
func Parse(path string, data []byte, v any, required ...string) (Source, error) {
	if err := Decode(path, data, v); err != nil {
		return Source{}, err
	}
	if err := Required(path, data, required...); err != nil {
		return Source{}, err
	}
	return Source{Path: path, data: data}, nil
}

// Errorf is FieldError for the field at yamlPath of this spec: an error
// "file:line:col: field "...": message".
func (s Source) Errorf(yamlPath, format string, args ...any) error {
	return FieldError(s.Path, s.data, yamlPath, fmt.Sprintf(format, args...))
}
