package safetensors

import "fmt"

// Error reports a malformed or unreadable safetensors file. File is the path
// (or the name the caller gave a stream), Tensor the tensor at fault or "" for
// the file as a whole, and Field the header field ("dtype", "shape",
// "data_offsets", "__metadata__", "header length", ...) where known.
type Error struct {
	File   string
	Tensor string
	Field  string
	Msg    string
	Err    error // underlying cause, if any
}

func (e *Error) Error() string {
	s := "safetensors " + e.File + ": "
	if e.Tensor != "" {
		s += fmt.Sprintf("tensor %q: ", e.Tensor)
	}
	if e.Field != "" {
		s += e.Field + ": "
	}
	s += e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

func errorf(file, tensor, field, format string, args ...any) *Error {
	return &Error{File: file, Tensor: tensor, Field: field, Msg: fmt.Sprintf(format, args...)}
}
