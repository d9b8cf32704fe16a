package main

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// textOut writes generated text to a terminal safely: bytes that are not
// valid UTF-8 and control characters (which could move the cursor, clear
// the screen or ring a bell) are written as Go escapes (\x1b, \u0085), so
// nothing the model emits is interpreted by the terminal. With keepLines,
// newlines and tabs pass through (real text); without, they are escaped too,
// so a synthetic model's gibberish is visible on one line. A character
// split across tokens is held back until its last byte arrives.
type textOut struct {
	w         io.Writer
	keepLines bool
	pending   []byte
	wrote     int // characters written
}

// Write writes the bytes of one token.
func (t *textOut) Write(b []byte) (int, error) {
	t.pending = append(t.pending, b...)
	var out strings.Builder
	for len(t.pending) > 0 {
		if !utf8.FullRune(t.pending) && len(t.pending) < utf8.UTFMax {
			break // the rest of the character is in the next token
		}
		r, n := utf8.DecodeRune(t.pending)
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&out, `\x%02x`, t.pending[0])
		case t.keepLines && (r == '\n' || r == '\t'):
			out.WriteRune(r)
		case unicode.IsPrint(r) || r == ' ':
			out.WriteRune(r)
		default:
			out.WriteString(strings.Trim(fmt.Sprintf("%+q", string(r)), `"`))
		}
		t.pending = t.pending[n:]
		t.wrote++
	}
	_, err := io.WriteString(t.w, out.String())
	return len(b), err
}

// Flush writes what is held back of an incomplete character, escaped.
func (t *textOut) Flush() error {
	var out strings.Builder
	for _, c := range t.pending {
		fmt.Fprintf(&out, `\x%02x`, c)
	}
	t.pending = nil
	_, err := io.WriteString(t.w, out.String())
	return err
}
